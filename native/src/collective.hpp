// Data parallelism over processes on PyTorch's own distributed engine (c10d):
// a TCPStore rendezvous and ProcessGroupGloo (CPU tensors), plus
// ProcessGroupNCCL (CUDA tensors) in CUDA builds that have NCCL. One process
// group per process, as torch.distributed's default group.
//
// A decision one process makes from the whole batch (advantage whitening,
// group or batch statistics, token-mean denominators, ...) takes its
// statistics through all_ranks_sum, so every rank makes it from all ranks'
// data and makes it the same way. In a single process (no process group) the
// sum is the local value.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace r4j {

// torchrun's contract, read by the caller from RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_USE_AGENT_STORE.
struct DistConfig {
  int32_t rank = 0;
  int32_t world_size = 1;
  int32_t local_rank = 0;
  int32_t local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int32_t master_port = 29500;
  int64_t timeout_ms = 600000;
  bool agent_store = false;  // torchrun's agent hosts the store: every rank is a client
  int32_t attempt = 0;       // TORCHELASTIC_RESTART_COUNT: keys of an earlier attempt are not reused
  bool nccl = false;         // CUDA tensors through ProcessGroupNCCL on cuda:local_rank
};

enum class Reduce { Sum, Max, Min };

// Joins the process group; throws with the cause (port in use, master
// unreachable, a rank missing) within timeout_ms. One group per process.
void dist_init(const DistConfig& config);
// Leaves the group (idempotent): later collectives are local again.
void dist_shutdown();
bool dist_active();
int32_t dist_rank();
int32_t dist_world_size();

// The element-wise sum of t over all ranks; t itself in a single process.
at::Tensor all_ranks_sum(const at::Tensor& t);

// In place over all ranks; a no-op in a single process.
void all_reduce_(at::Tensor& t, Reduce op);
// Every tensor takes root's values (in place, bucketed).
void broadcast_(const std::vector<at::Tensor>& tensors, int32_t root);
void dist_barrier();

// The data-parallel gradient average of an optimizer step, before clipping:
// ranks first agree on which parameters have a gradient anywhere (a rank
// without one contributes zeros), then each bucket of ~bucket_bytes of
// flattened gradients is summed over ranks and divided by the world size.
void average_gradients(const std::vector<at::Tensor>& params, int64_t bucket_bytes = 25LL << 20);

// Totals since dist_init, for the time/allreduce metric and the benchmark.
struct DistCounters {
  double allreduce_seconds = 0;
  int64_t allreduce_bytes = 0;  // payload bytes entering all-reduces on this rank
  int64_t allreduce_calls = 0;
};
DistCounters dist_counters();

// An order-sensitive hash of the exact bytes of tensors (FNV-1a, 64 bit):
// ranks that hold bitwise the same weights get the same value.
int64_t tensors_checksum(const std::vector<at::Tensor>& tensors);

}  // namespace r4j
