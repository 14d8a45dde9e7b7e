// The one log-softmax-and-gather both scoring paths share: scoring.cpp's
// unchunked heads and chunked_logprobs.cpp's chunks (which makes it the slow
// twin of the chunked path). Its own header so neither includes the other.
#pragma once

#include <ATen/ATen.h>

namespace r4j {

// log_softmax(logits / T) gathered at targets, and optionally the entropy
// (detached unless entropy_grad: as a metric it must not cost a backward pass
// over the vocabulary). logits [..., V] float32, targets [...] int64.
at::Tensor gather_logprobs(const at::Tensor& logits, const at::Tensor& targets, double temperature,
                           at::Tensor* entropy_out, bool entropy_grad = false);

}  // namespace r4j
