package org.rlhf4j.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The model and prompt file options that generate and eval share. */
final class ModelPromptOptions {
  @Option(names = "--model", required = true, paramLabel = "DIR",
      description = "Model directory, or a run directory (its newest checkpoint).")
  Path model;

  @Option(names = "--prompts", paramLabel = "FILE",
      description = "Prompt file: JSONL or text, one prompt a line, or Parquet (a file or a directory of shards).")
  Path prompts;

  @Option(names = "--prompt-field", paramLabel = "NAME", defaultValue = "prompt",
      description = "JSONL field holding the prompt (default: ${DEFAULT-VALUE}).")
  String promptField;
}
