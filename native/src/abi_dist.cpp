// The data-parallel part of the C ABI: the process group's life cycle, the
// caller's small all-reduces, weight broadcast and the divergence checksum.
#include <cstring>

#include "abi_handles.hpp"
#include "collective.hpp"

using r4j::guarded;
using r4j::require;
using r4j::require_out;
using r4j::Use;

extern "C" {

R4J_API r4j_status r4j_dist_options_defaults(r4j_dist_options* out) {
  return guarded(__func__, [&] {
    require_out(out, "out");
    r4j_dist_options o{};
    o.rank = 0;
    o.world_size = 1;
    o.local_rank = 0;
    o.local_world_size = 1;
    o.master_port = 29500;
    o.use_agent_store = 0;
    o.restart_count = 0;
    o.backend = R4J_DIST_GLOO;
    o.timeout_ms = 600000;
    *out = o;
  });
}

R4J_API r4j_status r4j_dist_init(const char* master_addr, const r4j_dist_options* options) {
  return guarded(__func__, [&] {
    require(master_addr != nullptr, "master_addr is NULL");
    require(options != nullptr, "options is NULL");
    require(options->backend == R4J_DIST_GLOO || options->backend == R4J_DIST_NCCL,
            "backend must be R4J_DIST_GLOO or R4J_DIST_NCCL, got " + std::to_string(options->backend));
    r4j::DistConfig c;
    c.rank = options->rank;
    c.world_size = options->world_size;
    c.local_rank = options->local_rank;
    c.local_world_size = options->local_world_size;
    c.master_addr = master_addr;
    c.master_port = options->master_port;
    c.timeout_ms = options->timeout_ms;
    c.agent_store = options->use_agent_store != 0;
    c.attempt = options->restart_count;
    c.nccl = options->backend == R4J_DIST_NCCL;
    r4j::dist_init(c);
  });
}

R4J_API r4j_status r4j_dist_shutdown(void) {
  return guarded(__func__, [&] { r4j::dist_shutdown(); });
}

R4J_API r4j_status r4j_dist_info(int32_t* out_rank, int32_t* out_world_size) {
  return guarded(__func__, [&] {
    require_out(out_rank, "out_rank");
    require_out(out_world_size, "out_world_size");
    *out_rank = r4j::dist_rank();
    *out_world_size = r4j::dist_world_size();
  });
}

R4J_API r4j_status r4j_dist_all_reduce(int32_t dtype, void* buf, int64_t n, int32_t op) {
  return guarded(__func__, [&] {
    require(dtype == R4J_DTYPE_F64 || dtype == R4J_DTYPE_I64, "all_reduce: dtype must be F64 or I64");
    require(buf != nullptr, "buf is NULL");
    require(n >= 1, "all_reduce: n must be >= 1, got " + std::to_string(n));
    require(op == R4J_REDUCE_SUM || op == R4J_REDUCE_MAX || op == R4J_REDUCE_MIN,
            "all_reduce: op must be one of R4J_REDUCE_*, got " + std::to_string(op));
    const auto reduce = op == R4J_REDUCE_SUM ? r4j::Reduce::Sum : op == R4J_REDUCE_MAX ? r4j::Reduce::Max : r4j::Reduce::Min;
    // A copy: Gloo may keep working on its buffer until the wait returns, and
    // the caller's memory must not be kept by the library.
    auto t = at::empty({n}, r4j::scalar_type_of(dtype));
    std::memcpy(t.data_ptr(), buf, static_cast<size_t>(n) * t.element_size());
    r4j::all_reduce_(t, reduce);
    std::memcpy(buf, t.data_ptr(), static_cast<size_t>(n) * t.element_size());
  });
}

R4J_API r4j_status r4j_dist_broadcast_model(r4j_model* model, int32_t root) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    r4j::broadcast_(m->model->parameters(), root);
  });
}

R4J_API r4j_status r4j_dist_barrier(void) {
  return guarded(__func__, [&] { r4j::dist_barrier(); });
}

R4J_API r4j_status r4j_model_checksum(const r4j_model* model, int64_t* out_checksum) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require_out(out_checksum, "out_checksum");
    *out_checksum = r4j::tensors_checksum(m->model->parameters());
  });
}

R4J_API r4j_status r4j_dist_counters_read(r4j_dist_counters* out) {
  return guarded(__func__, [&] {
    require_out(out, "out");
    const auto c = r4j::dist_counters();
    *out = r4j_dist_counters{c.allreduce_seconds, c.allreduce_bytes, c.allreduce_calls};
  });
}

}  // extern "C"
