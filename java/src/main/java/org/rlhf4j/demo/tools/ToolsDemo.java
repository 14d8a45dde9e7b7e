package org.rlhf4j.demo.tools;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rlhf4j.checkpoint.Checkpoint;
import org.rlhf4j.checkpoint.CheckpointWriter;
import org.rlhf4j.checkpoint.LoadOptions;
import org.rlhf4j.checkpoint.ModelDirs;
import org.rlhf4j.config.PpoRunConfig;
import org.rlhf4j.checkpoint.HfConfig;
import org.rlhf4j.config.SftRunConfig;
import org.rlhf4j.demo.Demo;
import org.rlhf4j.engine.Model;
import org.rlhf4j.ppo.PpoSetup;
import org.rlhf4j.ppo.PpoTrainer;
import org.rlhf4j.engine.ModelConfig;
import org.rlhf4j.sft.SftParts;
import org.rlhf4j.sft.SftResult;
import org.rlhf4j.sft.SftTrainer;
import org.rlhf4j.tokenizer.WordTokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The demo that needs its tool ({@code demo --task tools}): a tiny GPT learns from traces that
 * sometimes call the menu tool and sometimes guess (SFT, loss on the assistant's turns), then
 * GRPO with an exact-match reward runs it through the episode loop with the menu tool. The hidden
 * judges, exact-match accuracy and tool-call rate on held-out questions (greedy), measure it
 * before and after. Leaves DIR/data, DIR/sft, DIR/grpo, DIR/summary.json and DIR/report.html.
 * Not thread-safe; one demo per run directory.
 */
public final class ToolsDemo {
  private static final Logger LOG = LoggerFactory.getLogger(ToolsDemo.class);
  /** A lookup conversation is 36 tokens. */
  static final int CONTEXT = 48;
  /** The episode's response: a tool call (20 tokens), the result (4), the answer (2), with room; the prompt is 10. */
  static final int MAX_NEW_TOKENS = 32;
  /** The question's prompt is 10 tokens (BOS, role words, end of turn and the generation prompt included). */
  static final int MAX_PROMPT_TOKENS = CONTEXT - MAX_NEW_TOKENS;
  /** A tool call and the answer. */
  static final int MAX_TURNS = 2;
  private static final int SAMPLES_SHOWN = 8;

  private final Path out;
  private final ToolsScale scale;
  private final long seed;
  private final MenuTask task;
  private final WordTokenizer tokenizer = MenuTask.tokenizer();

  public ToolsDemo(Path out, ToolsScale scale, long seed) {
    this.out = out;
    this.scale = scale;
    this.seed = seed;
    this.task = new MenuTask(seed);
  }

  /** Runs every stage and returns the summary (also written to DIR/summary.json and DIR/report.html). */
  public ToolsSummary run() throws IOException {
    Demo.refuseExistingRun(out);
    Map<String, Double> seconds = new LinkedHashMap<>();
    long t0 = System.nanoTime();
    LOG.info("tools demo: writing the task's data into {}", out.resolve("data"));
    Path data = writeData();
    Path init = writeInitialModel();
    seconds.put("data", (System.nanoTime() - t0) / 1e9);

    long t = System.nanoTime();
    LOG.info("tools demo: supervised fine-tuning on traces that look prices up or guess -> {}", out.resolve("sft"));
    SftResult sft = sft(init, data);
    seconds.put("sft", (System.nanoTime() - t) / 1e9);

    t = System.nanoTime();
    List<MenuTask.Question> questions = task.heldOutQuestions();
    ToolsEval.Result before = judge("sft", questions);
    double evaluation = (System.nanoTime() - t) / 1e9;

    t = System.nanoTime();
    LOG.info("tools demo: GRPO through the episode loop with the menu tool, exact-match reward -> {}",
        out.resolve("grpo"));
    grpo(data);
    seconds.put("grpo", (System.nanoTime() - t) / 1e9);

    t = System.nanoTime();
    ToolsEval.Result after = judge("grpo", questions);
    seconds.put("evaluation", evaluation + (System.nanoTime() - t) / 1e9);
    seconds.put("total", (System.nanoTime() - t0) / 1e9);

    ToolsSummary summary = new ToolsSummary(scale, seed, questions.size(), sft.evalLoss(), before.table(),
        after.table(), seconds, samples(before), samples(after));
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("summary.json").toFile(),
        summary);
    ToolsReport.write(out, summary);
    return summary;
  }

  /** The judges on the policy in DIR/stage. */
  ToolsEval.Result judge(String stage, List<MenuTask.Question> questions) {
    LOG.info("tools demo: judging the {} policy on {} held-out questions (greedy episodes)", stage, questions.size());
    try (Model policy = Checkpoint.open(ModelDirs.resolve(out.resolve(stage)))
        .loadModel("cpu", c -> c.withValueHead(false), LoadOptions.allowHeadChanges()).model()) {
      ToolsEval.Result r = ToolsEval.evaluate(policy, tokenizer, ToolsTemplate.template(), questions);
      LOG.info("tools demo: {}: accuracy {}, tool-call rate {}", stage, String.format("%.3f", r.accuracy()),
          String.format("%.3f", r.toolCallRate()));
      return r;
    }
  }

  private static List<ToolsSummary.Sample> samples(ToolsEval.Result r) {
    return r.samples().stream().limit(SAMPLES_SHOWN).map(x -> new ToolsSummary.Sample(x.question(), x.transcript(),
        x.gold(), x.correct(), x.calledTool())).toList();
  }

  /** sft.jsonl (conversations) and prompts.jsonl (GRPO's training questions with their answers). */
  Path writeData() throws IOException {
    Path dir = Files.createDirectories(out.resolve("data"));
    ObjectMapper json = new ObjectMapper();
    List<String> sft = new ArrayList<>();
    for (var trace : task.sftTraces(scale.sftTraces(), seed + 11)) sft.add(json.writeValueAsString(Map.of("messages", trace)));
    Files.write(dir.resolve("sft.jsonl"), sft);
    Files.write(dir.resolve("prompts.jsonl"), rows(json, task.trainQuestions(2000, seed + 13)));
    return dir;
  }

  private static List<String> rows(ObjectMapper json, List<MenuTask.Question> questions) throws IOException {
    List<String> out = new ArrayList<>();
    for (var q : questions) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("prompt", q.text());
      row.put(ExactMatchReward.ANSWER, q.answer());
      out.add(json.writeValueAsString(row));
    }
    return out;
  }

  /** A randomly initialised GPT-2 over the task's words, with the tools template: where SFT starts. */
  Path writeInitialModel() {
    Path dir = out.resolve("init");
    ModelConfig config = ModelConfig.gpt2(tokenizer.vocabSize(), CONTEXT, scale.nEmbd(), scale.nLayer(), scale.nHead())
        .withSeed(seed);
    try (Model m = Model.create(config, "cpu")) {
      HfConfig hf = HfConfig.of(m.config()).withTokenIds(tokenizer.bosId(), List.of(tokenizer.eosId()),
          tokenizer.padId());
      CheckpointWriter writer = new CheckpointWriter().model(m, hf).file("tokenizer.json", tokenizer::save);
      ToolsTemplate.addTo(writer);
      writer.writeTo(dir, false);
    }
    return dir;
  }

  /**
   * GRPO (critic-free, a group of numSamples episodes per question) through the episode loop with
   * the menu tool, rewarded by exact match of the final answer.
   */
  void grpo(Path data) throws IOException {
    int iterations = scale.rlIterations();
    PpoRunConfig config = PpoRunConfig.loader().load(List.of(
        "run.out=" + out.resolve("grpo"), "run.seed=" + seed, "model.path=" + out.resolve("sft"),
        "data.prompts=" + data.resolve("prompts.jsonl"), "data.max_prompt_tokens=" + MAX_PROMPT_TOKENS,
        "generation.max_new_tokens=" + MAX_NEW_TOKENS, "generation.num_samples=" + scale.numSamples(),
        "agent.tools=[{class: " + MenuTool.class.getName() + "}]", "agent.max_turns=" + MAX_TURNS,
        "agent.tool_format=hermes",
        "reward.kind=function", "reward.function=" + ExactMatchReward.class.getName(),
        "ppo.preset=grpo", "ppo.kl_loss_coef=" + scale.klCoef(), "ppo.ppo_epochs=" + scale.rlEpochs(),
        "ppo.minibatch_size=" + scale.minibatch(), "ppo.micro_batch_size=" + scale.minibatch(),
        "optim.lr=" + scale.rlLr(), "schedule.iterations=" + iterations,
        "schedule.rollout_batch=" + scale.promptsPerIteration(), "schedule.eval_prompts=0",
        "schedule.checkpoint_every=" + iterations, "schedule.keep_checkpoints=1"));
    try (PpoTrainer trainer = new PpoTrainer(config, PpoSetup.load(config))) {
      trainer.run();
    }
  }

  SftResult sft(Path init, Path data) throws IOException {
    int batch = scale.sftBatch();
    SftRunConfig config = SftRunConfig.loader().load(List.of(
        "run.out=" + out.resolve("sft"), "run.seed=" + seed, "model.path=" + init,
        "data.prompts=" + data.resolve("sft.jsonl"), "data.eval_fraction=0.05", "data.max_prompt_tokens=" + MAX_PROMPT_TOKENS,
        "sft.max_seq_len=" + CONTEXT, "sft.assistant_only_loss=true",
        "sft.epochs=" + scale.sftEpochs(), "sft.batch_size=" + batch, "sft.micro_batch_size=" + batch,
        "sft.warmup_steps=20", "sft.decay=constant", "optim.lr=" + scale.sftLr(), "optim.max_grad_norm=1.0"));
    try (SftParts parts = SftParts.load(config); SftTrainer trainer = new SftTrainer(config, parts)) {
      SftResult r = trainer.run();
      LOG.info("tools demo: SFT done: held-out loss {} per token", String.format("%.3f", r.evalLoss()));
      return r;
    }
  }
}
