package org.rlhf4j.checkpoint;

import static org.rlhf4j.checkpoint.Messages.quote;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.rlhf4j.engine.DType;
import org.rlhf4j.engine.TensorInfo;

/**
 * Parses and validates a safetensors JSON header as untrusted input. Streaming (no tree), so
 * memory stays proportional to the header's size, which the caller has already capped.
 */
final class SafetensorsHeader {
  /** The header size limit of the reference implementation. */
  static final long MAX_HEADER_BYTES = 100_000_000L;
  static final String METADATA_KEY = "__metadata__";
  /** More dimensions than any real tensor has; bounds the work per entry. */
  static final int MAX_DIMS = 64;

  private static final String SUPPORTED =
      Arrays.stream(DType.values()).map(DType::safetensorsName).collect(Collectors.joining(", "));

  private static final JsonFactory JSON =
      JsonFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  /** The tensors in data order (by offset) and the string metadata. */
  record Parsed(List<TensorEntry> tensors, Map<String, String> metadata) {}

  private SafetensorsHeader() {}

  /** Parses header bytes that describe a data region of dataSize bytes. */
  static Parsed parse(byte[] header, long dataSize, String source) {
    String text = utf8(header, source);
    List<TensorEntry> entries = new ArrayList<>();
    Map<String, String> metadata = new LinkedHashMap<>();
    try (JsonParser p = JSON.createParser(text)) {
      if (p.nextToken() != JsonToken.START_OBJECT) throw bad(source, "the header is not a JSON object");
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        p.nextToken();
        if (name.equals(METADATA_KEY)) readMetadata(p, metadata, source);
        else entries.add(readEntry(p, name, source));
      }
      if (p.nextToken() != null) throw bad(source, "unexpected content after the header's JSON object");
    } catch (JsonProcessingException e) {
      JsonLocation at = e.getLocation();
      String where = at == null ? "" : " (header column " + at.getColumnNr() + ")";
      throw bad(source, "invalid JSON header: " + Messages.oneLine(e.getOriginalMessage()) + where);
    } catch (IOException e) {
      throw bad(source, "cannot parse the header: " + Messages.oneLine(e.getMessage()));
    }
    List<TensorEntry> ordered = checkLayout(entries, dataSize, source);
    return new Parsed(ordered, Collections.unmodifiableMap(metadata));
  }

  private static String utf8(byte[] header, String source) {
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(header))
          .toString();
    } catch (CharacterCodingException e) {
      throw bad(source, "the header is not valid UTF-8");
    }
  }

  private static void readMetadata(JsonParser p, Map<String, String> out, String source) throws IOException {
    if (p.currentToken() != JsonToken.START_OBJECT) throw bad(source, METADATA_KEY + " is not a JSON object");
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String key = p.currentName();
      if (p.nextToken() != JsonToken.VALUE_STRING) {
        throw bad(source, METADATA_KEY + " value of " + quote(key) + " is not a string");
      }
      out.put(key, p.getText());
    }
  }

  private static TensorEntry readEntry(JsonParser p, String name, String source) throws IOException {
    String tensor = "tensor " + quote(name);
    if (p.currentToken() != JsonToken.START_OBJECT) throw bad(source, tensor + ": entry is not a JSON object");
    String dtypeName = null;
    long[] shape = null;
    long[] offsets = null;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String key = p.currentName();
      JsonToken value = p.nextToken();
      switch (key) {
        case "dtype" -> {
          if (value != JsonToken.VALUE_STRING) throw bad(source, tensor + ": dtype is not a string");
          dtypeName = p.getText();
        }
        case "shape" -> shape = readCounts(p, tensor + ": shape", MAX_DIMS, source);
        case "data_offsets" -> offsets = readCounts(p, tensor + ": data_offsets", 2, source);
        default -> throw bad(source, tensor + ": unexpected key " + quote(key));
      }
    }
    if (dtypeName == null) throw bad(source, tensor + ": missing dtype");
    if (shape == null) throw bad(source, tensor + ": missing shape");
    if (offsets == null) throw bad(source, tensor + ": missing data_offsets");
    if (offsets.length != 2) throw bad(source, tensor + ": data_offsets must be [begin, end], got " + offsets.length + " numbers");
    DType dtype = DType.ofSafetensors(dtypeName);
    if (dtype == null) {
      throw bad(source, tensor + ": unsupported dtype " + quote(dtypeName) + " (supported: " + SUPPORTED + ")");
    }
    long begin = offsets[0];
    long end = offsets[1];
    if (end < begin) throw bad(source, tensor + ": data_offsets " + Arrays.toString(offsets) + " end before they begin");
    long bytes;
    try {
      long numel = 1;
      for (long d : shape) numel = Math.multiplyExact(numel, d);
      bytes = Math.multiplyExact(numel, (long) dtype.size());
    } catch (ArithmeticException e) {
      throw bad(source, tensor + ": shape " + Arrays.toString(shape) + " overflows a 64-bit byte count");
    }
    if (bytes != end - begin) {
      throw bad(source, tensor + ": shape " + Arrays.toString(shape) + " of " + dtype + " needs " + bytes
          + " bytes but data_offsets " + Arrays.toString(offsets) + " span " + (end - begin));
    }
    return new TensorEntry(new TensorInfo(name, dtype, shape), begin, end);
  }

  /** An array of at most max non-negative 64-bit integers. */
  private static long[] readCounts(JsonParser p, String what, int max, String source) throws IOException {
    if (p.currentToken() != JsonToken.START_ARRAY) throw bad(source, what + " is not an array");
    long[] out = new long[max];
    int n = 0;
    for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
      if (t != JsonToken.VALUE_NUMBER_INT) throw bad(source, what + " holds a non-integer");
      if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
        throw bad(source, what + " holds " + Messages.oneLine(p.getText()) + ", beyond 64 bits");
      }
      long v = p.getLongValue();
      if (v < 0) throw bad(source, what + " holds a negative number " + v);
      if (n == max) throw bad(source, what + " has more than " + max + " entries");
      out[n++] = v;
    }
    return Arrays.copyOf(out, n);
  }

  /** Sorts by offset and checks that the tensors tile the data region exactly. */
  private static List<TensorEntry> checkLayout(List<TensorEntry> entries, long dataSize, String source) {
    for (TensorEntry e : entries) {
      if (e.end() > dataSize) {
        throw bad(source, "tensor " + quote(e.name()) + ": data_offsets [" + e.begin() + ", " + e.end()
            + "] reach beyond the data region of " + dataSize + " bytes");
      }
    }
    List<TensorEntry> sorted = new ArrayList<>(entries);
    sorted.sort(Comparator.comparingLong(TensorEntry::begin).thenComparingLong(TensorEntry::end));
    long covered = 0;
    TensorEntry previous = null;
    for (TensorEntry e : sorted) {
      if (e.begin() < covered) {
        throw bad(source, "tensors " + quote(previous.name()) + " and " + quote(e.name()) + " overlap");
      }
      if (e.begin() > covered) {
        throw bad(source, "bytes [" + covered + ", " + e.begin() + ") before tensor " + quote(e.name())
            + " belong to no tensor");
      }
      covered = e.end();
      previous = e;
    }
    if (covered != dataSize) {
      throw bad(source, "bytes [" + covered + ", " + dataSize + ") at the end of the data region belong to no tensor");
    }
    return List.copyOf(sorted);
  }

  static SafetensorsException bad(String source, String problem) {
    return new SafetensorsException(source, problem);
  }
}
