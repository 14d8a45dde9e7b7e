package org.rlhf4j.serve;

import java.util.Map;

/**
 * What a listener of the job manager hears: a finished iteration (its metrics) or a change of
 * state.
 *
 * @param type {@link #ITERATION} or {@link #STATE}
 * @param job the job's id
 * @param iteration the iteration just finished, or the job's last one for a state change
 * @param state the job's state after the event
 * @param metrics the iteration's metrics (TRL's names); empty for a state change
 */
public record JobEvent(String type, String job, long iteration, JobState state, Map<String, Double> metrics) {
  public static final String ITERATION = "iteration";
  public static final String STATE = "state";

  public JobEvent {
    metrics = Map.copyOf(metrics);
  }
}
