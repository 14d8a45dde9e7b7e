package org.rlhf4j.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.rlhf4j.engine.Engine;
import org.rlhf4j.engine.Engine.BuildInfo;
import org.rlhf4j.engine.NativeLibrary;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Prints what the native build is (version, libtorch, BLAS, CUDA archs, devices), or with
 * --model what a model directory holds (see {@link ModelInfo}).
 */
@Command(name = "info", mixinStandardHelpOptions = true,
    description = {"Print the native build's facts (version, libtorch, BLAS, CUDA architectures, devices),",
        "or with --model a model's kind, size, shape, heads and tokenizer."})
final class InfoCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--json", description = "Print one JSON object instead of a table.")
  boolean json;

  @Option(names = "--model", paramLabel = "DIR",
      description = "Describe this model directory, or a run directory's newest checkpoint.")
  Path model;

  @Override
  public Integer call() {
    if (model != null) {
      ModelInfo info = ModelInfo.of(Inputs.modelDir("--model", model));
      if (json) spec.commandLine().getOut().println(info.json());
      else info.print(spec.commandLine().getOut());
      return Main.OK;
    }
    BuildInfo info = Engine.buildInfo();
    var out = spec.commandLine().getOut();
    if (json) {
      out.println(info.json());
    } else {
      out.printf("rlhf4j      %s (ABI %d)%n", info.version(), info.abi());
      out.printf("library     %s%n", NativeLibrary.path());
      out.printf("libtorch    %s%n", info.libtorch());
      out.printf("blas        %s (%s)%n", info.blas(), info.blasLibrary());
      out.printf("cuda        %s%s%n", info.cuda() ? "yes" : "no",
          info.cudaArchs().isEmpty() ? "" : ", archs " + String.join(",", info.cudaArchs()));
      out.printf("devices     %s%n", String.join(", ", info.devices()));
      out.printf("threads     %d (library kernels on %d)%n", info.threads(), info.kernelThreads());
      // Which paths this CPU takes (RLHF4J_CPU_ISA=avx2 shows an AVX2 machine's).
      out.printf("kernels     decoding %s, bf16 decoding %s, bf16 products of many rows: %s%n",
          info.decodeKernel(), info.bf16DecodeKernel(), info.bf16Matmul());
    }
    if (info.referenceBlas()) {
      spec.commandLine().getErr().println("warning: the reference (unoptimised) BLAS is live ("
          + info.blasLibrary() + "): matrix products run ~30x slower; install libopenblas0-openmp");
    }
    if (info.kernelsSerial()) {
      spec.commandLine().getErr().println("warning: the library's own kernels run on " + info.kernelThreads()
          + " of " + info.threads() + " threads: it was built without OpenMP; rebuild with a C++ compiler that has it");
    }
    return Main.OK;
  }
}
