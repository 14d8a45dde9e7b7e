// The memory part of the C ABI: a model's logit chunking and activation checkpointing.
#include "abi_handles.hpp"

using r4j::guarded;
using r4j::require;
using r4j::require_out;
using r4j::Use;

extern "C" {

R4J_API r4j_status r4j_memory_options_defaults(r4j_memory_options* out) {
  return guarded(__func__, [&] {
    require_out(out, "out");
    *out = r4j::default_memory_options();
  });
}

R4J_API r4j_status r4j_model_set_memory_options(r4j_model* model, const r4j_memory_options* options) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require(options != nullptr, "options is NULL");
    m->model->set_memory(*options);
  });
}

R4J_API r4j_status r4j_model_get_memory_options(const r4j_model* model, r4j_memory_options* out) {
  return guarded(__func__, [&] {
    Use<r4j_model> m(model, "model");
    require_out(out, "out");
    *out = m->model->memory();
  });
}

}  // extern "C"
