package org.rlhf4j.train;

/** A running weighted mean of losses and accuracies: an epoch's, a step's, an evaluation's. */
final class Weighted {
  double loss;
  double accuracy;
  double weight;

  void add(SupervisedStep.Measure m, double w) {
    loss += m.loss() * w;
    accuracy += m.accuracy() * w;
    weight += w;
  }

  double loss() {
    return weight == 0 ? Double.NaN : loss / weight;
  }

  double accuracy() {
    return weight == 0 ? Double.NaN : accuracy / weight;
  }

  SupervisedStep.Measure measure() {
    return new SupervisedStep.Measure(loss(), accuracy());
  }

  /** The same running mean over every rank's examples. */
  Weighted overRanks(Distributed dist) {
    if (!dist.active()) return this;
    double[] s = dist.sum(loss, accuracy, weight);
    Weighted all = new Weighted();
    all.loss = s[0];
    all.accuracy = s[1];
    all.weight = s[2];
    return all;
  }
}
