#include "checkpointing.hpp"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include <mutex>

namespace r4j {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What backward needs beyond tensors: the block and the generator state it started from.
struct Recompute : torch::CustomClassHolder {
  std::function<at::Tensor(const at::Tensor&)> block;
  at::Tensor rng_state;
};

at::Generator generator_of(const at::Tensor& x) { return at::globalContext().defaultGenerator(x.device()); }

at::Tensor get_state(at::Generator gen) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_state(at::Generator gen, const at::Tensor& state) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

struct Checkpoint : torch::autograd::Function<Checkpoint> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x,
                               const std::function<at::Tensor(const at::Tensor&)>& block) {
    auto holder = c10::make_intrusive<Recompute>();
    holder->block = block;
    holder->rng_state = get_state(generator_of(x));
    // The block runs with grad mode on, as without checkpointing, so it takes
    // the same kernels (inference fast paths differ in the last bits); the
    // graph it records is dropped on return.
    at::Tensor y;
    {
      at::AutoGradMode grad(true);
      y = block(x.detach()).detach();
    }
    ctx->save_for_backward({x});
    ctx->saved_data["recompute"] = at::IValue::make_capsule(holder);
    return {y};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto x = ctx->get_saved_variables()[0];
    auto holder = c10::static_intrusive_pointer_cast<Recompute>(ctx->saved_data["recompute"].toCapsule());
    auto gen = generator_of(x);
    auto now = get_state(gen);
    set_state(gen, holder->rng_state);
    auto input = x.detach().requires_grad_(x.requires_grad());
    at::Tensor y;
    {
      at::AutoGradMode grad(true);
      y = holder->block(input);
    }
    set_state(gen, now);
    // Re-entrant backward: the parameters' gradients accumulate as in a plain pass.
    y.backward(grads[0]);
    return {input.grad(), at::Tensor()};
  }
};

}  // namespace

at::Tensor checkpointed(const std::function<at::Tensor(const at::Tensor&)>& block, const at::Tensor& x) {
  // An input without gradient (frozen embeddings under LoRA) would leave the
  // output without a backward node, and the block's trainable weights without
  // gradients: a leaf that wants one keeps the node.
  return Checkpoint::apply(x.requires_grad() ? x : x.detach().requires_grad_(true), block)[0];
}

}  // namespace r4j
