package org.rlhf4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.cli.Inputs.PromptInput;
import org.rlhf4j.engine.Model;
import org.rlhf4j.engine.RolloutField;
import org.rlhf4j.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Samples a response per prompt and writes one JSON object a line: prompt, prompt_tokens,
 * response, response_tokens, logprobs (per response token, under logits / temperature; raw
 * logits when greedy) and values when the model has a value head.
 */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Sample a response per prompt from a model and write them as JSONL.")
final class GenerateCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec CommandSpec spec;

  @Mixin ModelPromptOptions input;

  @Mixin SamplingOptions sampling;

  @Option(names = "--out", required = true, paramLabel = "FILE.jsonl",
      description = "Output file, replaced atomically.")
  Path out;

  @Override
  public Integer call() throws IOException {
    if (input.prompts == null) throw new UsageException("--prompts FILE is required");
    sampling.validate();
    Path dir = Inputs.modelDir("--model", input.model);
    Tokenizer tokenizer = Inputs.tokenizer("--model", dir);
    // The reward head (a reward model's) plays no part in sampling; a value head's values are reported.
    try (Model m = Inputs.model("--model", dir, sampling.device, c -> c.withRewardHead(false),
        new LoadOptions(false, true))) {
      List<PromptInput> inputs = Inputs.prompts(input.prompts, input.promptField, dir, tokenizer,
          m.config().nPositions(), sampling.maxNewTokens);
      boolean values = m.config().valueHead();
      List<ObjectNode> lines = new ArrayList<>(inputs.size());
      Batches.generate("generate", m, inputs, sampling.generateOptions(tokenizer, values, inputs, dir), sampling.batchSize,
          (batch, r) -> {
            List<int[]> responses = r.responses();
            float[] logprobs = r.floats(RolloutField.OLD_LOGPROBS);
            float[] v = values ? r.floats(RolloutField.OLD_VALUES) : null;
            for (int i = 0; i < batch.size(); i++) {
              int[] tokens = responses.get(i);
              ObjectNode o = JSON.createObjectNode();
              o.put("prompt", batch.get(i).text());
              ints(o.putArray("prompt_tokens"), batch.get(i).tokens());
              o.put("response", tokenizer.decode(tokens, true));
              ints(o.putArray("response_tokens"), tokens);
              floats(o.putArray("logprobs"), Batches.row(logprobs, i, r.responseLen(), tokens.length));
              if (v != null) floats(o.putArray("values"), Batches.row(v, i, r.responseLen(), tokens.length));
              lines.add(o);
            }
          });
      AtomicFile.write(out, w -> {
        for (ObjectNode o : lines) {
          w.write(JSON.writeValueAsString(o));
          w.write('\n');
        }
      });
      spec.commandLine().getOut().printf("wrote %d generations to %s%n", lines.size(), out);
    }
    return Main.OK;
  }

  private static void ints(ArrayNode a, int[] xs) {
    for (int x : xs) a.add(x);
  }

  private static void floats(ArrayNode a, float[] xs) {
    for (float x : xs) a.add(x);
  }
}
