package org.rlhf4j.data;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.GroupType;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.LogicalTypeAnnotation.DecimalLogicalTypeAnnotation;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;

/**
 * A Parquet record as the same Java values Jackson gives for the JSON object of a JSONL line:
 * strings (STRING, ENUM and JSON columns, checked UTF-8) as String, int32 as Integer, int64 as
 * Long, float and double as Double, boolean as Boolean, LIST as List, MAP and structs as Map (so
 * TRL's {@code messages} column, a list of {role, content} structs, reads as the JSONL array of
 * objects does). A null field is left out, as a JSONL line leaves out a key it lacks: Parquet
 * columns are shared by every row, and null is how a row lacks one (Hugging Face datasets reads a
 * JSONL file whose lines have different keys that way); nulls in lists and maps stay. Decimals
 * are BigDecimal; other binary is byte[]. Stateless.
 */
final class ParquetValues {
  private ParquetValues() {}

  /**
   * The fields of record, in schema order.
   *
   * @param where {@code file: row N}, to begin error messages with
   * @throws DataException for a string that is not valid UTF-8, naming the field
   */
  static Map<String, Object> record(Group record, String where) {
    return struct(record, where, "");
  }

  private static Map<String, Object> struct(Group g, String where, String path) {
    GroupType type = g.getType();
    Map<String, Object> out = new LinkedHashMap<>();
    for (int i = 0; i < type.getFieldCount(); i++) {
      Type field = type.getType(i);
      String name = path + field.getName();
      int n = g.getFieldRepetitionCount(i);
      if (field.isRepetition(Type.Repetition.REPEATED)) {
        List<Object> values = new ArrayList<>(n);
        for (int j = 0; j < n; j++) values.add(value(g, i, j, where, name + "[" + j + "]"));
        out.put(field.getName(), values);
      } else {
        if (n > 0) out.put(field.getName(), value(g, i, 0, where, name));
      }
    }
    return out;
  }

  /** The j-th value of field i of g; path names it in errors (e.g. messages[2].content). */
  private static Object value(Group g, int i, int j, String where, String path) {
    Type type = g.getType().getType(i);
    if (type.isPrimitive()) return primitive(g, i, j, type.asPrimitiveType(), where, path);
    Group child = g.getGroup(i, j);
    LogicalTypeAnnotation logical = type.getLogicalTypeAnnotation();
    if (logical instanceof LogicalTypeAnnotation.ListLogicalTypeAnnotation) return list(child, where, path);
    if (logical instanceof LogicalTypeAnnotation.MapLogicalTypeAnnotation) return map(child, where, path);
    return struct(child, where, path + ".");
  }

  /**
   * A LIST group: {@code repeated group list { element }} (the standard three levels), or by
   * Parquet's backward-compatibility rules a repeated primitive or struct that is the element.
   */
  private static List<Object> list(Group g, String where, String path) {
    Type repeated = g.getType().getType(0);
    int n = g.getFieldRepetitionCount(0);
    List<Object> out = new ArrayList<>(n);
    boolean threeLevel = !repeated.isPrimitive() && repeated.asGroupType().getFieldCount() == 1
        && !repeated.getName().equals("array") && !repeated.getName().endsWith("_tuple");
    for (int j = 0; j < n; j++) {
      String at = path + "[" + j + "]";
      if (!threeLevel) {
        out.add(value(g, 0, j, where, at));
        continue;
      }
      Group element = g.getGroup(0, j);
      out.add(element.getFieldRepetitionCount(0) == 0 ? null : value(element, 0, 0, where, at));
    }
    return out;
  }

  /** A MAP group: {@code repeated group key_value { key; value }}; keys become strings as in JSON. */
  private static Map<String, Object> map(Group g, String where, String path) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (int j = 0; j < g.getFieldRepetitionCount(0); j++) {
      Group entry = g.getGroup(0, j);
      String key = String.valueOf(value(entry, 0, 0, where, path + ".key"));
      out.put(key, entry.getFieldRepetitionCount(1) == 0 ? null : value(entry, 1, 0, where, path + "." + key));
    }
    return out;
  }

  private static Object primitive(Group g, int i, int j, PrimitiveType type, String where, String path) {
    LogicalTypeAnnotation logical = type.getLogicalTypeAnnotation();
    if (logical instanceof DecimalLogicalTypeAnnotation d) return decimal(g, i, j, type, d.getScale());
    return switch (type.getPrimitiveTypeName()) {
      case INT32 -> g.getInteger(i, j);
      case INT64 -> g.getLong(i, j);
      case FLOAT -> (double) g.getFloat(i, j);
      case DOUBLE -> g.getDouble(i, j);
      case BOOLEAN -> g.getBoolean(i, j);
      case BINARY, FIXED_LEN_BYTE_ARRAY, INT96 -> isText(logical)
          ? utf8(g.getBinary(i, j), where, path)
          : g.getBinary(i, j).getBytes();
    };
  }

  private static boolean isText(LogicalTypeAnnotation logical) {
    return logical instanceof LogicalTypeAnnotation.StringLogicalTypeAnnotation
        || logical instanceof LogicalTypeAnnotation.EnumLogicalTypeAnnotation
        || logical instanceof LogicalTypeAnnotation.JsonLogicalTypeAnnotation;
  }

  private static String utf8(Binary value, String where, String path) {
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(value.getBytesUnsafe()))
          .toString();
    } catch (CharacterCodingException e) {
      throw new DataException(where + ": field '" + path + "' is not valid UTF-8");
    }
  }

  private static BigDecimal decimal(Group g, int i, int j, PrimitiveType type, int scale) {
    return switch (type.getPrimitiveTypeName()) {
      case INT32 -> BigDecimal.valueOf(g.getInteger(i, j), scale);
      case INT64 -> BigDecimal.valueOf(g.getLong(i, j), scale);
      default -> new BigDecimal(new BigInteger(g.getBinary(i, j).getBytes()), scale);
    };
  }
}
