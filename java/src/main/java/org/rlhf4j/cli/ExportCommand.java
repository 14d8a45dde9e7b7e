package org.rlhf4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointException;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.engine.Model;
import org.rlhf4j.train.TokenizerFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Writes a model (a model directory, or a run directory's newest checkpoint) as a plain Hugging
 * Face directory: config.json, model.safetensors and the tokenizer files, which transformers'
 * from_pretrained loads. A LoRA model keeps its adapter beside the base in PEFT's files, or with
 * --merge has it folded into the weights. The critic's value head (no transformers class has
 * one) is left out; a reward model keeps its score head.
 */
@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Write a model as a plain Hugging Face directory (config.json, model.safetensors, tokenizer).")
final class ExportCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, paramLabel = "DIR",
      description = "Model directory, or a run directory (its newest checkpoint).")
  Path model;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "New directory to write (must not exist).")
  Path out;

  @Option(names = "--merge", description = "Fold LoRA adapters into the base weights (a model without adapters).")
  boolean merge;

  @Override
  public Integer call() {
    Path dir = Inputs.modelDir("--model", model);
    if (Files.exists(out)) throw new UsageException("--out: " + out + " exists; export writes a new directory");
    try (Model m = Inputs.model("--model", dir, "cpu", c -> c.withValueHead(false), new LoadOptions(false, true))) {
      boolean adapters = m.lora().isPresent();
      if (merge && adapters) m.mergeLora();
      HfConfig config = Checkpoint.open(dir).config().withModel(m.config());
      CheckpointWriter w = new CheckpointWriter().model(m, config);
      TokenizerFiles.copyInto(w, dir);
      w.writeTo(out, false);
      String what = !adapters ? "" : merge ? " (LoRA merged into the weights)" : " (base + PEFT adapter beside it)";
      spec.commandLine().getOut().printf("exported %s to %s%s%n", dir, out, what);
    } catch (CheckpointException e) {
      throw new UsageException("--out: " + e.getMessage());
    }
    return 0;
  }
}
