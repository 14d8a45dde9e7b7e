package org.rlhf4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.rlhf4j.chat.ChatTemplate;
import org.rlhf4j.chat.ChatTemplateException;
import org.rlhf4j.chat.EndOfTurn;
import org.rlhf4j.cli.Inputs.PromptInput;
import org.rlhf4j.engine.GenerateOptions;
import org.rlhf4j.tokenizer.Tokenizer;
import picocli.CommandLine.Option;

/** The sampling options that generate and eval share (a picocli mixin; filled by picocli, read on one thread). */
final class SamplingOptions {
  @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "32",
      description = "Most tokens generated per response (default: ${DEFAULT-VALUE}).")
  int maxNewTokens;

  @Option(names = "--temperature", paramLabel = "T", defaultValue = "1.0",
      description = "Sampling temperature; 0 is greedy (default: ${DEFAULT-VALUE}).")
  double temperature;

  @Option(names = "--top-k", paramLabel = "K", defaultValue = "0",
      description = "Sample among the K likeliest tokens; 0 is off (default: ${DEFAULT-VALUE}).")
  int topK;

  @Option(names = "--top-p", paramLabel = "P", defaultValue = "1.0",
      description = "Nucleus sampling mass; 1 is off (default: ${DEFAULT-VALUE}).")
  double topP;

  @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
      description = "Seed of the sampling; batch b uses S + its first prompt's index (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--batch-size", paramLabel = "B", defaultValue = "16",
      description = "Prompts generated together (default: ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(names = "--device", paramLabel = "D", defaultValue = "cpu",
      description = "cpu, cuda or cuda:N (default: ${DEFAULT-VALUE}).")
  String device;

  /** Checks the ranges, naming the option. */
  void validate() {
    if (maxNewTokens < 1) throw new UsageException("--max-new-tokens must be >= 1, got " + maxNewTokens);
    if (!(temperature >= 0) || Double.isInfinite(temperature)) {
      throw new UsageException("--temperature must be >= 0, got " + temperature);
    }
    if (topK < 0) throw new UsageException("--top-k must be >= 0 (0 = off), got " + topK);
    if (!(topP > 0 && topP <= 1)) throw new UsageException("--top-p must be in (0, 1], got " + topP);
    if (batchSize < 1) throw new UsageException("--batch-size must be >= 1, got " + batchSize);
    if (!device.matches("cpu|cuda(:\\d+)?")) {
      throw new UsageException("--device must be cpu, cuda or cuda:N, got '" + device + "'");
    }
  }

  /**
   * These settings with the tokenizer's EOS and padding; the seed is set per batch. When a prompt
   * is a conversation, responses are assistant turns and also stop at the chat template's
   * end-of-turn token (when it is not EOS); plain-string prompts have no stop besides EOS.
   */
  GenerateOptions generateOptions(Tokenizer tokenizer, boolean withValues, List<PromptInput> prompts, Path modelDir) {
    int stop = -1;
    if (prompts.stream().anyMatch(PromptInput::chat)) {
      try {
        stop = EndOfTurn.stopId(ChatTemplate.require(modelDir), tokenizer);
      } catch (ChatTemplateException | IOException e) {
        throw new UsageException("--prompts: " + e.getMessage());
      }
    }
    int pad = tokenizer.paddingId();
    return new GenerateOptions(maxNewTokens, temperature, topK, topP, tokenizer.eosId(), stop, pad, seed, withValues);
  }

  /**
   * The temperature log-probs are taken at when scoring: generation records them under raw
   * logits when greedy, so scoring does the same.
   */
  double scoringTemperature() {
    return temperature > 0 ? temperature : 1.0;
  }
}
