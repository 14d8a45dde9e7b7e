package org.rlhf4j.config;

/**
 * Section {@code sft} of the sft command and {@code rm} of train-rm: epochs, batches and the
 * learning-rate shape of supervised training. The learning rate itself is {@code optim.lr}.
 */
public record TrainSection(
    @Doc("Passes over the training data.") int epochs,
    @Doc("Examples per optimizer step.") int batchSize,
    @Doc("Examples per forward/backward pass (gradient accumulation); must divide batch_size.")
        int microBatchSize,
    @Doc("Optimizer steps of linear warm-up from 0.") int warmupSteps,
    @Doc("Learning rate after warm-up: constant, linear or cosine (to 0).") Decay decay,
    @Doc("Longest example in tokens (prompt and completion together); longer ones per data.too_long.") int maxSeqLen,
    @Doc("Write a resumable checkpoint (with the optimizer state) every this many optimizer steps, replacing the "
        + "previous one (Hugging Face's save_steps); 0 = only at the end and when stopped.") int saveSteps,
    @Doc("sft only: on conversational data ({\"messages\": [...]}) the loss covers the assistant turns' tokens only "
        + "(TRL's assistant_only_loss); false = every token of the rendered conversation.") boolean assistantOnlyLoss,
    @Doc("Token budget of a micro-batch: each batch's examples, sorted by length, are cut into micro-batches of at "
        + "most this many padded tokens (a longer example gets one of its own); micro_batch_size is then unused. "
        + "0 = off.") int maxTokensPerMicroBatch) {

  public TrainSection {
    Check.atLeast("epochs", epochs, 1);
    Check.atLeast("batch_size", batchSize, 1);
    Check.atLeast("micro_batch_size", microBatchSize, 1);
    Check.atLeast("warmup_steps", warmupSteps, 0);
    Check.notNull("decay", decay);
    Check.atLeast("max_seq_len", maxSeqLen, 2);
    Check.atLeast("save_steps", saveSteps, 0);
    Check.atLeast("max_tokens_per_micro_batch", maxTokensPerMicroBatch, 0);
  }

  /** 3 epochs, batches of 16, cosine decay, 128 tokens, a checkpoint every 500 steps, assistant-only loss. */
  public static TrainSection sftDefaults() {
    return new TrainSection(3, 16, 16, 0, Decay.COSINE, 128, 500, true, 0);
  }

  /** As {@link #sftDefaults()} with 2 epochs. */
  public static TrainSection rmDefaults() {
    return new TrainSection(2, 16, 16, 0, Decay.COSINE, 128, 500, true, 0);
  }

  /** The rules of sft and train-rm across sections; section is "sft" or "rm". */
  void validate(String section, ModelSection model, DataSection data) {
    Check.rule(model.path() != null, "model.path is required: the checkpoint directory of the model to train");
    Check.rule(data.prompts() != null, "data.prompts is required: the training data file");
    Check.rule(batchSize % microBatchSize == 0, section + ".micro_batch_size (" + microBatchSize + ") must divide "
        + section + ".batch_size (" + batchSize + ")");
    Check.rule(assistantOnlyLoss || section.equals("sft"), section + ".assistant_only_loss applies to sft only");
    Check.rule(maxSeqLen > data.maxPromptTokens(), section + ".max_seq_len (" + maxSeqLen
        + ") must be greater than data.max_prompt_tokens (" + data.maxPromptTokens() + ") to leave room for a response");
  }

  /** The learning rate per optimizer step: lr with this section's warm-up and decay (to 0). */
  public LrSchedule lrSchedule(double lr, long totalSteps) {
    return new LrSchedule(lr, warmupSteps, decay, 0, totalSteps);
  }

  /** Optimizer steps of the whole training on this many examples (a partial last batch is a step). */
  public long totalSteps(long trainExamples) {
    if (trainExamples < 1) throw new IllegalArgumentException("no training examples");
    return epochs * ((trainExamples + batchSize - 1) / batchSize);
  }
}
