#include "collective.hpp"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#if defined(RLHF4J_NCCL)
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "errors.hpp"

namespace r4j {
namespace {

// libtorch 2.x split the process group into a front (ProcessGroup) and the
// backends it dispatches to (Backend); Gloo and NCCL are backends there and
// process groups themselves in 1.13. The collectives we call exist on both.
#if !defined(TORCH_VERSION_MAJOR)
#error "torch/version.h must be included before the process-group alias"
#elif TORCH_VERSION_MAJOR >= 2
using Group = c10d::Backend;
#else
using Group = c10d::ProcessGroup;
#endif

using Clock = std::chrono::steady_clock;

struct State {
  DistConfig config;
  c10::intrusive_ptr<c10d::Store> store;  // the TCPStore under the attempt's prefix
  c10::intrusive_ptr<Group> gloo;         // CPU tensors
  c10::intrusive_ptr<Group> nccl;         // CUDA tensors (CUDA builds with NCCL)
  DistCounters counters;
  std::string broken;                     // the first failure: later collectives repeat it
};

// Never destroyed: a JVM exiting on SIGTERM runs static destructors while its
// main thread may still be inside a collective.
std::mutex& mutex = *new std::mutex;  // one collective at a time: ranks must issue them in one order
State* state = nullptr;

std::string first_line(const std::string& s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string where(const DistConfig& c) {
  return "rank " + std::to_string(c.rank) + " of " + std::to_string(c.world_size);
}

// libtorch >= 2.4 asks for the libuv TCPStore by default, which builds without
// libuv (Debian's, for one) refuse; the classic server speaks the same protocol.
c10::intrusive_ptr<c10d::TCPStore> tcp_store(const std::string& host, c10d::TCPStoreOptions options) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2)
  if (options.useLibUV) {
    try {
      return c10::make_intrusive<c10d::TCPStore>(host, options);
    } catch (const std::exception& e) {
      std::string what = e.what();
      std::transform(what.begin(), what.end(), what.begin(), [](unsigned char ch) { return std::tolower(ch); });
      if (what.find("libuv") == std::string::npos) throw;
      options.useLibUV = false;
    }
  }
#endif
  return c10::make_intrusive<c10d::TCPStore>(host, options);
}

// After a failed collective, names the ranks that are gone: each survivor
// leaves a key in the store, and the ranks whose key does not appear within a
// few seconds are reported. The store lives on rank 0 (or torchrun's agent):
// when it is unreachable, its host is what was lost.
std::string lost_ranks(State& s) {
  const auto& c = s.config;
  try {
    const std::string prefix = "r4j/survivor/";
    s.store->set(prefix + std::to_string(c.rank), std::vector<uint8_t>{1});
    const auto grace = std::min<int64_t>(c.timeout_ms, 5000);
    const auto deadline = Clock::now() + std::chrono::milliseconds(grace);
    std::vector<int32_t> missing;
    while (true) {
      missing.clear();
      for (int32_t r = 0; r < c.world_size; ++r)
        if (r != c.rank && !s.store->check({prefix + std::to_string(r)})) missing.push_back(r);
      if (missing.empty() || Clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (missing.empty()) return "no rank is known lost (a peer timed out or failed)";
    std::string out = missing.size() == 1 ? "lost rank " : "lost ranks ";
    for (size_t i = 0; i < missing.size(); ++i) out += (i ? ", " : "") + std::to_string(missing[i]);
    return out;
  } catch (const std::exception&) {
    if (c.agent_store) return "lost the rendezvous store (torchrun's agent at " + c.master_addr + ")";
    return "lost rank 0 (it hosts the rendezvous store at " + c.master_addr + ":" +
           std::to_string(c.master_port) + ")";
  }
}

[[noreturn]] void collective_failed(State& s, const char* what, const std::exception& e) {
  if (s.broken.empty())
    s.broken = "data-parallel " + std::string(what) + " failed on " + where(s.config) + ": " + lost_ranks(s) +
               " (" + first_line(e.what()) + ")";
  fail(R4J_ERR_RUNTIME, s.broken);
}

State& active_state() {
  if (!state->broken.empty()) fail(R4J_ERR_RUNTIME, state->broken);
  return *state;
}

Group& group_for(State& s, const at::Tensor& t) {
  if (t.is_cuda()) {
    if (s.nccl) return *s.nccl;
    fail(R4J_ERR_DEVICE, "data parallelism: a CUDA tensor, but this build has no NCCL process group");
  }
  return *s.gloo;
}

c10d::ReduceOp reduce_op(Reduce op) {
  switch (op) {
    case Reduce::Sum: return c10d::ReduceOp::SUM;
    case Reduce::Max: return c10d::ReduceOp::MAX;
    case Reduce::Min: return c10d::ReduceOp::MIN;
  }
  return c10d::ReduceOp::SUM;
}

// t must be contiguous; reduced in place. Caller holds the mutex.
void all_reduce_locked(State& s, at::Tensor& t, Reduce op) {
  const auto start = Clock::now();
  try {
    std::vector<at::Tensor> tensors{t};
    c10d::AllreduceOptions options;
    options.reduceOp = reduce_op(op);
    options.timeout = std::chrono::milliseconds(s.config.timeout_ms);
    group_for(s, t).allreduce(tensors, options)->wait();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    collective_failed(s, "all-reduce", e);
  }
  s.counters.allreduce_seconds += std::chrono::duration<double>(Clock::now() - start).count();
  s.counters.allreduce_bytes += static_cast<int64_t>(t.numel() * t.element_size());
  s.counters.allreduce_calls += 1;
}

// Tensors of one dtype and device, cut into consecutive runs of about
// bucket_bytes (a tensor larger than a bucket is a bucket of its own).
std::vector<std::vector<at::Tensor>> buckets_of(const std::vector<at::Tensor>& tensors, int64_t bucket_bytes) {
  std::vector<std::vector<at::Tensor>> out;
  int64_t bytes = 0;
  for (const auto& t : tensors) {
    const int64_t b = t.numel() * static_cast<int64_t>(t.element_size());
    const bool same_kind = !out.empty() && out.back().front().scalar_type() == t.scalar_type() &&
                           out.back().front().device() == t.device();
    if (out.empty() || !same_kind || bytes + b > bucket_bytes) {
      out.emplace_back();
      bytes = 0;
    }
    out.back().push_back(t);
    bytes += b;
  }
  return out;
}

at::Tensor flatten(const std::vector<at::Tensor>& bucket) {
  std::vector<at::Tensor> flat;
  flat.reserve(bucket.size());
  for (const auto& t : bucket) flat.push_back(t.reshape({-1}));
  return at::cat(flat);
}

void unflatten_into(const at::Tensor& flat, const std::vector<at::Tensor>& bucket) {
  int64_t offset = 0;
  for (const auto& t : bucket) {
    const int64_t n = t.numel();
    t.copy_(flat.narrow(0, offset, n).view(t.sizes()));
    offset += n;
  }
}

std::shared_ptr<::gloo::transport::Device> gloo_device(const DistConfig& c) {
  // As torch.distributed: an interface named by GLOO_SOCKET_IFNAME, else this
  // host's address; loopback when the master is on this host by loopback.
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (c.master_addr == "localhost" || c.master_addr.rfind("127.", 0) == 0)
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

void dist_init(const DistConfig& c) {
  std::lock_guard<std::mutex> lock(mutex);
  if (state) fail(R4J_ERR_INVALID_ARGUMENT, "data parallelism: the process group is already initialised (" + where(state->config) + ")");
  require(c.world_size >= 1, "data parallelism: world_size must be >= 1, got " + std::to_string(c.world_size));
  require(c.rank >= 0 && c.rank < c.world_size,
          "data parallelism: rank " + std::to_string(c.rank) + " is outside [0, world_size = " +
              std::to_string(c.world_size) + ")");
  require(c.local_rank >= 0, "data parallelism: local_rank must be >= 0");
  require(c.master_port > 0 && c.master_port < 65536,
          "data parallelism: master_port must be in [1, 65535], got " + std::to_string(c.master_port));
  require(!c.master_addr.empty(), "data parallelism: master_addr is empty");
  require(c.timeout_ms > 0, "data parallelism: timeout must be > 0 ms");
#if !defined(RLHF4J_NCCL)
  require(!c.nccl, "data parallelism: NCCL was requested but this build has no ProcessGroupNCCL");
#endif
  auto s = std::make_unique<State>();
  s->config = c;
  const auto timeout = std::chrono::milliseconds(c.timeout_ms);
  const std::string at = c.master_addr + ":" + std::to_string(c.master_port);
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(c.master_port);
    options.isServer = !c.agent_store && c.rank == 0;
    options.numWorkers = static_cast<size_t>(c.world_size);
    options.waitWorkers = false;  // the process group's rendezvous waits, within the timeout
    options.timeout = timeout;
    auto tcp = tcp_store(c.master_addr, options);
    // torchrun's agent keeps its store across restarts: each attempt has its keys.
    s->store = c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(c.attempt), tcp);
  } catch (const std::exception& e) {
    fail(R4J_ERR_RUNTIME, "data-parallel init on " + where(c) + ": cannot " +
                              (c.agent_store || c.rank != 0 ? "reach the rendezvous store at " : "host the rendezvous store at ") +
                              at + " within " + std::to_string(c.timeout_ms / 1000.0) + " s (" + first_line(e.what()) + ")");
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(gloo_device(c));
    options->threads = 2;
    s->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo", s->store),
                                                         c.rank, c.world_size, options);
#if defined(RLHF4J_NCCL)
    if (c.nccl) {
      c10::cuda::set_device(static_cast<c10::DeviceIndex>(c.local_rank));
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      s->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10::make_intrusive<c10d::PrefixStore>("nccl", s->store),
                                                           c.rank, c.world_size, nccl_options);
    }
#endif
  } catch (const std::exception& e) {
    fail(R4J_ERR_RUNTIME, "data-parallel init on " + where(c) + ": the other ranks did not all join at " + at +
                              " within " + std::to_string(c.timeout_ms / 1000.0) + " s (" + first_line(e.what()) + ")");
  }
  state = s.release();
}

void dist_shutdown() {
  std::lock_guard<std::mutex> lock(mutex);
  if (!state) return;
  state->nccl.reset();
  state->gloo.reset();
  state->store.reset();
  delete state;
  state = nullptr;
}

bool dist_active() {
  std::lock_guard<std::mutex> lock(mutex);
  return state != nullptr && state->config.world_size > 1;
}

int32_t dist_rank() {
  std::lock_guard<std::mutex> lock(mutex);
  return state ? state->config.rank : 0;
}

int32_t dist_world_size() {
  std::lock_guard<std::mutex> lock(mutex);
  return state ? state->config.world_size : 1;
}

at::Tensor all_ranks_sum(const at::Tensor& t) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!state || state->config.world_size == 1) return t;
  auto& s = active_state();
  auto out = t.detach().clone().contiguous();
  all_reduce_locked(s, out, Reduce::Sum);
  return out;
}

void all_reduce_(at::Tensor& t, Reduce op) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!state || state->config.world_size == 1) return;
  auto& s = active_state();
  require(t.is_contiguous(), "all_reduce: the tensor must be contiguous");
  all_reduce_locked(s, t, op);
}

void broadcast_(const std::vector<at::Tensor>& tensors, int32_t root) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!state || state->config.world_size == 1) return;
  auto& s = active_state();
  require(root >= 0 && root < s.config.world_size, "broadcast: root rank " + std::to_string(root) + " out of range");
  at::NoGradGuard no_grad;
  for (const auto& bucket : buckets_of(tensors, 25LL << 20)) {
    auto flat = flatten(bucket);
    try {
      std::vector<at::Tensor> one{flat};
      c10d::BroadcastOptions options;
      options.rootRank = root;
      options.timeout = std::chrono::milliseconds(s.config.timeout_ms);
      group_for(s, flat).broadcast(one, options)->wait();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      collective_failed(s, "broadcast", e);
    }
    unflatten_into(flat, bucket);
  }
}

void dist_barrier() {
  std::lock_guard<std::mutex> lock(mutex);
  if (!state || state->config.world_size == 1) return;
  auto& s = active_state();
  // A one-element all-reduce rather than Gloo's barrier: it honours the
  // timeout and fails the same way when a peer is gone.
  auto token = at::zeros({1}, at::kLong);
  all_reduce_locked(s, token, Reduce::Sum);
}

void average_gradients(const std::vector<at::Tensor>& params, int64_t bucket_bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!state || state->config.world_size == 1) return;
  }
  at::NoGradGuard no_grad;
  // Which parameters have a gradient on some rank: those are averaged
  // everywhere, so every rank sends buckets of the same layout.
  auto has_grad = at::zeros({static_cast<int64_t>(params.size())}, at::kLong);
  auto* flags = has_grad.data_ptr<int64_t>();
  for (size_t i = 0; i < params.size(); ++i) flags[i] = params[i].grad().defined() ? 1 : 0;
  all_reduce_(has_grad, Reduce::Max);
  std::vector<at::Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    if (flags[i] == 0) continue;
    auto p = params[i];
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  const double inv_world = 1.0 / dist_world_size();
  for (const auto& bucket : buckets_of(grads, bucket_bytes)) {
    auto flat = flatten(bucket);
    all_reduce_(flat, Reduce::Sum);
    flat.mul_(inv_world);
    unflatten_into(flat, bucket);
  }
}

DistCounters dist_counters() {
  std::lock_guard<std::mutex> lock(mutex);
  return state ? state->counters : DistCounters{};
}

int64_t tensors_checksum(const std::vector<at::Tensor>& tensors) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a offset basis
  for (const auto& t : tensors) {
    auto host = t.detach().to(at::kCPU).contiguous();
    const auto* bytes = static_cast<const unsigned char*>(host.data_ptr());
    const size_t n = static_cast<size_t>(host.numel()) * host.element_size();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {  // a word at a time: bytes would take ~1 s per 200 MB
      uint64_t w;
      std::memcpy(&w, bytes + i, 8);
      h = (h ^ w) * 1099511628211ULL;
    }
    for (; i < n; ++i) h = (h ^ bytes[i]) * 1099511628211ULL;
    h = (h ^ n) * 1099511628211ULL;  // tensor boundaries count
  }
  return static_cast<int64_t>(h);
}

}  // namespace r4j
