package org.rlhf4j.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointException;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.ModelDirs;
import org.rlhf4j.config.DataSection.Format;
import org.rlhf4j.data.ChatPrompts;
import org.rlhf4j.data.PromptFile;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.tokenizer.Tokenizer;
import org.rlhf4j.tokenizer.Tokenizers;

/**
 * What the generate and eval commands read: models, tokenizers and prompt files. A bad path or
 * file is the user's to fix, so every failure here is a {@link UsageException} (exit 2) naming
 * the option and the path. Stateless.
 */
final class Inputs {
  private Inputs() {}

  /** A prompt of a file, tokenized for the model; chat: a conversation rendered with the chat template. */
  record PromptInput(int line, String text, int[] tokens, Map<String, Object> fields, boolean chat) {}

  /** The model directory option points at: itself, or a run directory's newest checkpoint. */
  static Path modelDir(String option, Path dir) {
    try {
      return ModelDirs.resolve(dir);
    } catch (CheckpointException e) {
      throw new UsageException(option + ": " + e.getMessage());
    }
  }

  /** The model of a resolved directory, with its config changed by adjust before loading. */
  static Model model(String option, Path dir, String device, UnaryOperator<ModelConfig> adjust, LoadOptions load) {
    try {
      return Checkpoint.open(dir).loadModel(device, adjust, load).model();
    } catch (CheckpointException | IllegalArgumentException | UncheckedIOException e) {
      throw new UsageException(option + ": " + e.getMessage());
    }
  }

  static Tokenizer tokenizer(String option, Path dir) {
    try {
      return Tokenizers.load(dir);
    } catch (IOException | UncheckedIOException e) {
      throw new UsageException(option + ": " + e.getMessage());
    }
  }

  /**
   * The prompts of file (JSONL, text or Parquet, by extension or content), each tokenized as a prompt;
   * a list of messages is rendered with the chat template of modelDir and the generation prompt.
   * A prompt that leaves no room for maxNewTokens in the model's context is an error naming its
   * line: it is never cut silently.
   */
  static List<PromptInput> prompts(Path file, String field, Path modelDir, Tokenizer tokenizer, long contextLength,
      int maxNewTokens) {
    List<PromptFile.Line> lines;
    try {
      lines = PromptFile.read(file, Format.AUTO, field, new ChatPrompts(modelDir));
    } catch (IOException e) {
      throw new UsageException("--prompts: cannot read " + file + ": " + e.getMessage());
    }
    List<PromptInput> out = new ArrayList<>(lines.size());
    for (PromptFile.Line l : lines) {
      int[] tokens = l.chat() ? tokenizer.encode(l.text()) : tokenizer.encodePrompt(l.text());
      String where = l.where();
      if (tokens.length == 0) throw new UsageException(where + ": the prompt has no tokens");
      if (tokens.length + (long) maxNewTokens > contextLength) {
        throw new UsageException(where + ": the prompt is " + tokens.length + " tokens; with --max-new-tokens "
            + maxNewTokens + " it needs " + (tokens.length + maxNewTokens) + " positions but the model's context is "
            + contextLength);
      }
      out.add(new PromptInput(l.line(), l.text(), tokens, l.fields(), l.chat()));
    }
    return out;
  }
}
