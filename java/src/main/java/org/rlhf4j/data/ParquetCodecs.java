package org.rlhf4j.data;

import com.github.luben.zstd.Zstd;
import io.airlift.compress.lz4.Lz4Compressor;
import io.airlift.compress.lz4.Lz4Decompressor;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.compression.CompressionCodecFactory;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.xerial.snappy.Snappy;

/**
 * Parquet's page codecs without Hadoop: parquet-java's own factory builds Hadoop codecs, which
 * need Hadoop's configuration machinery and its dependencies. Uncompressed, Snappy, gzip, zstd and
 * LZ4 (raw) cover what pyarrow and Hugging Face datasets write (Snappy by default). Stateless and
 * thread-safe.
 */
public final class ParquetCodecs implements CompressionCodecFactory {
  /** One codec, both ways, on whole pages. */
  private interface Codec {
    byte[] compress(byte[] in) throws IOException;

    byte[] decompress(byte[] in, int size) throws IOException;
  }

  @Override
  public BytesInputCompressor getCompressor(CompressionCodecName name) {
    Codec codec = codec(name);
    return new BytesInputCompressor() {
      @Override
      public BytesInput compress(BytesInput bytes) throws IOException {
        return BytesInput.from(codec.compress(bytes.toByteArray()));
      }

      @Override
      public CompressionCodecName getCodecName() {
        return name;
      }

      @Override
      public void release() {}
    };
  }

  @Override
  public BytesInputDecompressor getDecompressor(CompressionCodecName name) {
    Codec codec = codec(name);
    return new BytesInputDecompressor() {
      @Override
      public BytesInput decompress(BytesInput bytes, int size) throws IOException {
        return BytesInput.from(codec.decompress(bytes.toByteArray(), size));
      }

      @Override
      public void decompress(ByteBuffer in, int inSize, ByteBuffer out, int outSize) throws IOException {
        byte[] compressed = new byte[inSize];
        in.get(compressed);
        out.put(codec.decompress(compressed, outSize));
      }

      @Override
      public void release() {}
    };
  }

  @Override
  public void release() {}

  private static Codec codec(CompressionCodecName name) {
    return switch (name) {
      case UNCOMPRESSED -> new Codec() {
        public byte[] compress(byte[] in) {
          return in;
        }

        public byte[] decompress(byte[] in, int size) {
          return in;
        }
      };
      case SNAPPY -> new Codec() {
        public byte[] compress(byte[] in) throws IOException {
          return Snappy.compress(in);
        }

        public byte[] decompress(byte[] in, int size) throws IOException {
          return Snappy.uncompress(in);
        }
      };
      case GZIP -> new Codec() {
        public byte[] compress(byte[] in) throws IOException {
          ByteArrayOutputStream out = new ByteArrayOutputStream();
          try (GZIPOutputStream gzip = new GZIPOutputStream(out)) {
            gzip.write(in);
          }
          return out.toByteArray();
        }

        public byte[] decompress(byte[] in, int size) throws IOException {
          try (InputStream gzip = new GZIPInputStream(new ByteArrayInputStream(in))) {
            return exact(gzip.readNBytes(size), size);
          }
        }
      };
      case ZSTD -> new Codec() {
        public byte[] compress(byte[] in) {
          return Zstd.compress(in);
        }

        public byte[] decompress(byte[] in, int size) throws IOException {
          return exact(Zstd.decompress(in, size), size);
        }
      };
      case LZ4_RAW -> new Codec() {
        public byte[] compress(byte[] in) {
          Lz4Compressor lz4 = new Lz4Compressor();
          byte[] out = new byte[lz4.maxCompressedLength(in.length)];
          return Arrays.copyOf(out, lz4.compress(in, 0, in.length, out, 0, out.length));
        }

        public byte[] decompress(byte[] in, int size) throws IOException {
          byte[] out = new byte[size];
          return exact(Arrays.copyOf(out, new Lz4Decompressor().decompress(in, 0, in.length, out, 0, size)), size);
        }
      };
      // Not a DataException: the reader adds the file's name to it.
      default -> throw new UnsupportedOperationException("compression " + name
          + " is not supported (uncompressed, snappy, gzip, zstd and lz4_raw are)");
    };
  }

  private static byte[] exact(byte[] out, int size) throws IOException {
    if (out.length != size) throw new IOException("a page does not decompress to its stated size");
    return out;
  }
}
