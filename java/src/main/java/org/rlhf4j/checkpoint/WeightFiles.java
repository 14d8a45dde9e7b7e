package org.rlhf4j.checkpoint;

import static org.rlhf4j.checkpoint.Messages.quote;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weights of a model directory, memory-mapped: {@code model.safetensors}, or the shards
 * listed by {@code model.safetensors.index.json} ({@code {"weight_map": {name: file}}}).
 * Shard names are taken as untrusted: only plain file names in the same directory.
 *
 * <p>Thread-safety: immutable once open; close it after the last read.
 */
public final class WeightFiles implements AutoCloseable {
  public static final String SINGLE = "model.safetensors";
  public static final String INDEX = "model.safetensors.index.json";

  /** A tensor and the file that holds it. */
  public record Located(SafetensorsFile file, TensorEntry entry) {
    /** Its bytes, valid until the files are closed. */
    public MemorySegment data() {
      return file.data(entry);
    }

    /** "FILE: tensor 'NAME'", for messages. */
    public String where() {
      return file.path() + ": tensor " + quote(entry.name());
    }
  }

  private final Path dir;
  private final List<SafetensorsFile> files;
  private final Map<String, Located> tensors;

  private WeightFiles(Path dir, List<SafetensorsFile> files, Map<String, Located> tensors) {
    this.dir = dir;
    this.files = files;
    this.tensors = tensors;
  }

  /** Opens the weights of dir; a missing or inconsistent index names the file and tensor. */
  public static WeightFiles open(Path dir) {
    Path single = dir.resolve(SINGLE);
    Path index = dir.resolve(INDEX);
    if (Files.isRegularFile(single)) {
      SafetensorsFile file = SafetensorsFile.open(single);
      Map<String, Located> tensors = new LinkedHashMap<>();
      for (TensorEntry e : file.tensors()) tensors.put(e.name(), new Located(file, e));
      return new WeightFiles(dir, List.of(file), tensors);
    }
    if (Files.isRegularFile(index)) return sharded(dir, index);
    String hint = Files.exists(dir.resolve("pytorch_model.bin"))
        ? " (pytorch_model.bin is a pickle, which rlhf4j never loads: convert it to safetensors)" : "";
    throw new CheckpointException(dir + ": no " + SINGLE + " or " + INDEX + hint);
  }

  private static WeightFiles sharded(Path dir, Path index) {
    JsonNode root = Json.read(index);
    JsonFields weightMap = JsonFields.of(root, index.toString()).object("weight_map");
    if (weightMap == null) throw new CheckpointException(index + ": missing key 'weight_map'");
    JsonNode map = root.get("weight_map");
    Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
    Map<String, Located> tensors = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, JsonNode> e : map.properties()) {
        String name = e.getKey();
        if (!e.getValue().isTextual()) throw weightMap.error(name, "must name a shard file");
        String shardName = e.getValue().textValue();
        if (!isPlainFileName(shardName)) {
          throw weightMap.error(name, "names " + quote(shardName) + ", not a file in " + dir);
        }
        SafetensorsFile shard = shards.get(shardName);
        if (shard == null) {
          shard = SafetensorsFile.open(dir.resolve(shardName));
          shards.put(shardName, shard);
        }
        TensorEntry entry = shard.find(name).orElse(null);
        if (entry == null) {
          throw new CheckpointException(index + ": tensor " + quote(name) + " is listed in " + quote(shardName)
              + ", which does not contain it");
        }
        tensors.put(name, new Located(shard, entry));
      }
      for (SafetensorsFile shard : shards.values()) {
        for (TensorEntry e : shard.tensors()) {
          if (tensors.get(e.name()) == null || tensors.get(e.name()).file() != shard) {
            throw new CheckpointException(shard.path() + ": tensor " + quote(e.name()) + " is not listed for this shard in "
                + index);
          }
        }
      }
      return new WeightFiles(dir, List.copyOf(shards.values()), tensors);
    } catch (RuntimeException e) {
      shards.values().forEach(SafetensorsFile::close);
      throw e;
    }
  }

  private static boolean isPlainFileName(String name) {
    return !name.isEmpty() && !name.equals(".") && !name.equals("..") && name.indexOf('/') < 0
        && name.indexOf('\\') < 0 && name.indexOf('\0') < 0;
  }

  public Path dir() {
    return dir;
  }

  /** Every tensor name, in file order (shard by shard for an index: index order). */
  public List<String> names() {
    return new ArrayList<>(tensors.keySet());
  }

  /** The tensor, or null when no file holds it. */
  public Located get(String name) {
    return tensors.get(name);
  }

  @Override
  public void close() {
    files.forEach(SafetensorsFile::close);
  }
}
