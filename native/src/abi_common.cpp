#include <cmath>
#include <cstring>

#include "abi_handles.hpp"

namespace r4j {

void require_out(const void* out, const char* name) {
  require(out != nullptr, std::string("output pointer ") + name + " is NULL");
}

void check_batch(int64_t batch, int64_t seq_len, const Model& model) {
  require(batch > 0, "empty batch (batch = " + std::to_string(batch) + ")");
  require(seq_len > 0, "empty sequences (seq_len = " + std::to_string(seq_len) + ")");
  require(seq_len <= model.config().n_positions,
          "sequence length " + std::to_string(seq_len) + " exceeds the context window n_positions = " +
              std::to_string(model.config().n_positions));
}

at::Tensor tokens_from(const int32_t* tokens, int64_t batch, int64_t seq_len, const Model& model,
                       const char* what) {
  require(tokens != nullptr, std::string(what) + " is NULL");
  auto host = at::from_blob(const_cast<int32_t*>(tokens), {batch, seq_len}, at::kInt);
  const int64_t vocab = model.config().vocab_size;
  auto bad = host.lt(0).logical_or(host.ge(vocab));
  if (bad.any().item<bool>()) {
    auto flat = bad.flatten().nonzero().select(1, 0);
    const int64_t i = flat[0].item<int64_t>();
    fail(R4J_ERR_INVALID_ARGUMENT, std::string(what) + "[" + std::to_string(i / seq_len) + "][" +
                                       std::to_string(i % seq_len) + "] = " +
                                       std::to_string(tokens[i]) + " is outside the vocabulary [0, " +
                                       std::to_string(vocab) + ")");
  }
  return host.to(model.device(), at::kLong);  // a copy: caller memory is not kept
}

at::Tensor mask_from(const uint8_t* mask, int64_t batch, int64_t seq_len, at::Device device,
                     const char* what) {
  require(mask != nullptr, std::string(what) + " is NULL");
  auto host = at::from_blob(const_cast<uint8_t*>(mask), {batch, seq_len}, at::kByte);
  return host.ne(0).to(device);
}

size_t element_size(int32_t dtype) {
  switch (dtype) {
    case R4J_DTYPE_F32: case R4J_DTYPE_I32: return 4;
    case R4J_DTYPE_F16: case R4J_DTYPE_BF16: return 2;
    case R4J_DTYPE_F64: case R4J_DTYPE_I64: return 8;
    case R4J_DTYPE_U8: return 1;
  }
  fail(R4J_ERR_INVALID_ARGUMENT, "unknown dtype code " + std::to_string(dtype));
}

int32_t r4j_dtype_of(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return R4J_DTYPE_F32;
    case at::kHalf: return R4J_DTYPE_F16;
    case at::kBFloat16: return R4J_DTYPE_BF16;
    case at::kDouble: return R4J_DTYPE_F64;
    case at::kInt: return R4J_DTYPE_I32;
    case at::kLong: return R4J_DTYPE_I64;
    case at::kByte: case at::kBool: return R4J_DTYPE_U8;
    default: fail(R4J_ERR_RUNTIME, std::string("no ABI dtype for ") + c10::toString(t));
  }
}

void copy_out(const at::Tensor& t, int32_t dtype, void* dst, size_t dst_bytes, const std::string& what) {
  require(dst != nullptr, what + ": destination buffer is NULL");
  const size_t need = static_cast<size_t>(t.numel()) * element_size(dtype);
  if (dst_bytes < need)
    fail(R4J_ERR_BUFFER_TOO_SMALL, what + ": buffer holds " + std::to_string(dst_bytes) + " bytes, " +
                                       std::to_string(need) + " needed");
  auto host = t.detach().to(at::kCPU, scalar_type_of(dtype)).contiguous();
  std::memcpy(dst, host.data_ptr(), need);
}

at::Tensor view_in(const void* src, int32_t dtype, int64_t numel, size_t src_bytes, const std::string& what) {
  require(src != nullptr, what + ": source buffer is NULL");
  const size_t need = static_cast<size_t>(numel) * element_size(dtype);
  require(src_bytes == need, what + ": got " + std::to_string(src_bytes) + " bytes, expected exactly " +
                                 std::to_string(need));
  return at::from_blob(const_cast<void*>(src), {numel}, scalar_type_of(dtype));
}

}  // namespace r4j
