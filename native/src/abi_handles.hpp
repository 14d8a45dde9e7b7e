// The C ABI's opaque types, defined for the library's own translation units,
// and helpers shared by the extern "C" bodies.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "handles.hpp"
#include "model.hpp"
#include "optim.hpp"
#include "rollout.hpp"

struct r4j_model : r4j::Handle {
  static constexpr r4j::Kind handle_kind = r4j::Kind::Model;
  r4j_model() : Handle(handle_kind) {}
  std::unique_ptr<r4j::Model> model;
};

struct r4j_rollout : r4j::Handle {
  static constexpr r4j::Kind handle_kind = r4j::Kind::Rollout;
  r4j_rollout() : Handle(handle_kind) {}
  std::unique_ptr<r4j::Rollout> rollout;
};

struct r4j_optimizer : r4j::Handle {
  static constexpr r4j::Kind handle_kind = r4j::Kind::Optimizer;
  r4j_optimizer() : Handle(handle_kind) {}
  std::unique_ptr<r4j::AdamW> optimizer;
  const r4j_model* model = nullptr;  // the handle whose parameters it steps
};

namespace r4j {

// Registers a freshly built handle and hands it to the caller.
template <typename H>
void publish(std::unique_ptr<H> handle, H** out) {
  register_handle(handle.get());
  *out = handle.release();
}

// Unregisters and deletes a handle; NULL is a no-op.
template <typename H>
void destroy(H* handle, const char* what) {
  if (handle == nullptr) return;
  unregister_handle(handle, H::handle_kind, what);
  delete handle;
}

void require_out(const void* out, const char* name);

// Checks dims and copies caller arrays into device tensors.
at::Tensor tokens_from(const int32_t* tokens, int64_t batch, int64_t seq_len, const Model& model,
                       const char* what);
at::Tensor mask_from(const uint8_t* mask, int64_t batch, int64_t seq_len, at::Device device,
                     const char* what);
void check_batch(int64_t batch, int64_t seq_len, const Model& model);

// Copies a tensor to caller memory, converted to dtype; checks capacity in bytes.
void copy_out(const at::Tensor& t, int32_t dtype, void* dst, size_t dst_bytes, const std::string& what);
// A host tensor viewing caller memory of dtype with numel elements (checked against bytes).
at::Tensor view_in(const void* src, int32_t dtype, int64_t numel, size_t src_bytes, const std::string& what);
size_t element_size(int32_t dtype);
// Fills the out-parameters of a *_tensor_info call for tensor t.
void describe_tensor(const std::string& name, const at::Tensor& t, char* name_buf, size_t name_cap,
                     int32_t* out_dtype, int32_t* out_ndim, int64_t* shape, int32_t shape_cap);
// Overwrites target from caller memory; rejects wrong sizes and non-finite values.
void write_checked(at::Tensor& target, const std::string& name, int32_t dtype, const void* src, size_t src_bytes);
// "cpu", "cuda", "cuda:N" -> a device that exists, else R4J_ERR_DEVICE.
at::Device parse_device(const char* device);
int32_t r4j_dtype_of(at::ScalarType t);

}  // namespace r4j
