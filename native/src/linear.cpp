#include "linear.hpp"

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#ifdef RLHF4J_WITH_DNNL
#include <dnnl.hpp>
#endif

#include <torch/csrc/autograd/custom_function.h>

#include "bf16_convert.hpp"
#include "gelu.hpp"
#include "gemm_few_rows.hpp"
#include "simd.hpp"

namespace r4j {
namespace {

std::atomic<bool> fast_enabled{true};

// A product's shape: x [m, k] times w with n outputs; x_by_col: x is the
// transpose of a contiguous [k, m] (a weight gradient's x^T or dy^T).
struct Shape {
  int64_t m, k, n;
  bool out_by_in, bias;
  bool x_by_col = false;
  bool operator<(const Shape& o) const {
    return std::tie(m, k, n, out_by_in, bias, x_by_col) < std::tie(o.m, o.k, o.n, o.out_by_in, o.bias, o.x_by_col);
  }
};

}  // namespace

at::Tensor linear_reference(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in) {
  auto sizes = x.sizes().vec();
  auto x2 = x.reshape({-1, x.size(-1)});
  auto wt = w_is_out_by_in ? w.t() : w;  // [in, out]
  sizes.back() = wt.size(1);
  auto y = b.defined() ? at::addmm(b, x2, wt) : at::mm(x2, wt);
  return y.view(sizes);
}

bool cpu_bf16_matmul_native() {
  static const bool yes = R4J_CPU_SUPPORTS_AVX512("avx512bw") && R4J_CPU_SUPPORTS_AVX512("avx512vl") &&
                          R4J_CPU_SUPPORTS_AVX512("avx512dq");
  return yes;
}

bool bf16_on_float32_copies(const at::Tensor& t) {
  return t.scalar_type() == at::kBFloat16 && t.device().is_cpu() && !cpu_bf16_matmul_native();
}

bool fast_linear_available() {
#ifdef RLHF4J_WITH_DNNL
  return true;
#else
  return few_rows_available();
#endif
}

void set_fast_linear(bool on) { fast_enabled = on; }

bool onednn_products() {
#ifdef RLHF4J_WITH_DNNL
  return fast_enabled;
#else
  return false;
#endif
}

struct PackedWeights::Cache {
  std::map<std::pair<const void*, Shape>, int> uses;  // by weight and shape, counted up to 2
#ifdef RLHF4J_WITH_DNNL
  // oneDNN's blocked layout of each weight, one copy per weight: on the Zen 4 we
  // measured it chooses one layout for every row count from 1 to 300 (a decoding
  // batch that shrinks row by row keeps multiplying with it); a row count that
  // wants another layout replaces it.
  std::map<const void*, dnnl::memory> packed;
#endif
  int64_t packings = 0;
  // The panels do not depend on the number of rows: one copy per weight serves
  // every row count up to kFewRowsMax (generation's batch shrinks as rows finish).
  std::map<std::pair<const void*, bool>, at::Tensor> panels;  // by weight and w_is_out_by_in
  at::Tensor& panels_of(const at::Tensor& w, bool w_is_out_by_in, at::Tensor (*pack)(const at::Tensor&, bool)) {
    auto& p = panels[{w.data_ptr(), w_is_out_by_in}];
    if (!p.defined()) p = pack(w, w_is_out_by_in);
    return p;
  }
};

namespace {

thread_local PackedWeights::Cache* active_packing = nullptr;

bool has_packed(const void* w) {
#ifdef RLHF4J_WITH_DNNL
  return active_packing->packed.count(w) > 0;
#else
  (void)w;
  return false;
#endif
}

// Whether w takes a reordered copy for shape s in this thread's scope: from its
// second use with that shape (then the copy pays for itself), or at once when w
// has a reordered copy already.
bool reused(const at::Tensor& w, const Shape& s) {
  if (!active_packing) return false;
  auto& uses = active_packing->uses[{w.data_ptr(), s}];
  if (uses < 2) ++uses;
  return uses >= 2 || has_packed(w.data_ptr());
}

// Whether w has panels in this thread's scope already (packed at another row count).
bool has_panels(const at::Tensor& w, bool w_is_out_by_in) {
  return active_packing && active_packing->panels.count({w.data_ptr(), w_is_out_by_in}) > 0;
}

#ifdef RLHF4J_WITH_DNNL

constexpr size_t kMaxPrimitives = 64;  // see primitive()

dnnl::engine& cpu_engine() {
  static dnnl::engine engine = [] {
    // oneDNN keeps up to 1024 primitives of its own besides ours, each with its kernels: new row
    // counts every pass would grow the process for a thousand of them. Unless the user set it.
    if (!std::getenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY") && !std::getenv("DNNL_PRIMITIVE_CACHE_CAPACITY"))
      dnnl::set_primitive_cache_capacity(static_cast<int>(kMaxPrimitives));
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return engine;
}

dnnl::memory::desc weights_desc(const Shape& s, dnnl::memory::format_tag layout) {
  return dnnl::memory::desc({s.k, s.n}, dnnl::memory::data_type::f32, layout);
}

dnnl::memory::format_tag stored_layout(const Shape& s) {
  return s.out_by_in ? dnnl::memory::format_tag::ba : dnnl::memory::format_tag::ab;
}

// A matmul primitive per shape, built once: building one (even through
// oneDNN's own cache) costs tens of microseconds, a fifth of a decoding-step
// GEMM. Weights are passed per call, so the primitives hold no tensors.
// Weights in the stored layout, or (packed) in the blocked one oneDNN chooses.
// Scoring passes and micro-batches multiply ever new row counts, and each
// primitive holds its JIT-compiled kernels: past kMaxPrimitives the map starts
// over (a caller still executing keeps its primitive alive), so memory stays flat.
struct Matmul {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
};

std::shared_ptr<const Matmul> primitive(const Shape& s, bool packed) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  static std::mutex mutex;
  static std::map<std::pair<Shape, bool>, std::shared_ptr<const Matmul>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto key = std::make_pair(s, packed);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  if (cache.size() >= kMaxPrimitives) cache.clear();
  dnnl::memory::desc src({s.m, s.k}, dt::f32, s.x_by_col ? tag::ba : tag::ab);
  auto weights = weights_desc(s, packed ? tag::any : stored_layout(s));
  dnnl::memory::desc dst({s.m, s.n}, dt::f32, tag::ab);
  auto& engine = cpu_engine();
  dnnl::matmul::primitive_desc pd =
      s.bias ? dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dnnl::memory::desc({1, s.n}, dt::f32, tag::ab), dst), engine)
             : dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), engine);
  auto m = std::make_shared<const Matmul>(Matmul{pd, dnnl::matmul(pd)});
  cache.emplace(key, m);
  return m;
}

dnnl::memory dnnl_pack(const at::Tensor& w, const Shape& s) {
  auto& engine = cpu_engine();
  dnnl::memory plain(weights_desc(s, stored_layout(s)), engine, w.data_ptr());
  dnnl::memory packed(primitive(s, /*packed=*/true)->pd.weights_desc(), engine);
  dnnl::stream stream(engine);
  dnnl::reorder(plain, packed).execute(stream, plain, packed);
  stream.wait();
  return packed;
}

// w in the blocked layout oneDNN chooses for shape s: the copy w has when its
// layout is that one (packed for another row count), else a new copy replacing it.
const dnnl::memory& packed_for(const at::Tensor& w, const Shape& s) {
  auto& copy = active_packing->packed[w.data_ptr()];
  if (!copy || !(copy.get_desc() == primitive(s, /*packed=*/true)->pd.weights_desc())) {
    copy = dnnl::memory();  // the old copy goes before the new one is made
    copy = dnnl_pack(w, s);
    ++active_packing->packings;
  }
  return copy;
}

// y [m, n] = x2 [m, k] w (+ b), both contiguous (x2 transposed if s.x_by_col);
// packed: w reordered by dnnl_pack for exactly s.m rows, or empty for w itself.
void dnnl_product(const at::Tensor& x2, const at::Tensor& w, const at::Tensor& b, const Shape& s,
                  const dnnl::memory& packed, const at::Tensor& y) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  auto& engine = cpu_engine();
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory({{s.m, s.k}, dt::f32, s.x_by_col ? tag::ba : tag::ab}, engine, x2.data_ptr())},
      {DNNL_ARG_WEIGHTS, packed ? packed : dnnl::memory(weights_desc(s, stored_layout(s)), engine, w.data_ptr())},
      {DNNL_ARG_DST, dnnl::memory({{s.m, s.n}, dt::f32, tag::ab}, engine, y.data_ptr())}};
  if (s.bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory({{1, s.n}, dt::f32, tag::ab}, engine, b.data_ptr()));
  dnnl::stream stream(engine);
  primitive(s, static_cast<bool>(packed))->prim.execute(stream, args);
  stream.wait();
}

// Scoring passes and micro-batches multiply ever new row counts, and each new
// shape is a primitive to compile and keep: with w as stored, the rows go in
// blocks of kRowBlock, the last one zero-padded to a multiple of kRowStep, so
// a weight meets at most kRowBlock / kRowStep shapes.
constexpr int64_t kRowBlock = 256, kRowStep = 16;

at::Tensor dnnl_linear(const at::Tensor& x2, const at::Tensor& w, const at::Tensor& b, const Shape& s,
                       const dnnl::memory& packed) {
  auto y = at::empty({s.m, s.n}, x2.options());
  if (packed) {
    dnnl_product(x2, w, b, s, packed, y);
    return y;
  }
  for (int64_t r0 = 0; r0 < s.m; r0 += kRowBlock) {
    const int64_t rows = std::min(kRowBlock, s.m - r0), padded = (rows + kRowStep - 1) / kRowStep * kRowStep;
    Shape block = s;
    block.m = padded;
    if (padded == rows) {
      dnnl_product(x2.narrow(0, r0, rows), w, b, block, {}, y.narrow(0, r0, rows));
    } else {
      auto xp = at::zeros({padded, s.k}, x2.options());
      xp.narrow(0, 0, rows).copy_(x2.narrow(0, r0, rows));
      auto yp = at::empty({padded, s.n}, x2.options());
      dnnl_product(xp, w, b, block, {}, yp);
      y.narrow(0, r0, rows).copy_(yp.narrow(0, 0, rows));
    }
  }
  return y;
}

// a [m, k] b [k, n] as one product, each operand contiguous or the transpose of
// a contiguous matrix (else copied). A micro-batch's row count repeats in every
// layer and from epoch to epoch, so one primitive per whole shape pays for itself.
at::Tensor dnnl_matmul(at::Tensor a, at::Tensor b) {
  auto by_col = [](at::Tensor& t) {
    if (t.is_contiguous()) return false;
    if (t.t().is_contiguous()) return true;
    t = t.contiguous();
    return false;
  };
  const bool a_by_col = by_col(a), b_by_col = by_col(b);
  const Shape s{a.size(0), a.size(1), b.size(1), b_by_col, false, a_by_col};
  auto y = at::empty({s.m, s.n}, a.options());
  dnnl_product(a, b, {}, s, {}, y);
  return y;
}

// y = a b (+ bias) (+ y's own values when accumulate), a [..., m, k] b [..., k, n]
// y [..., m, n] over the same batch dims, any positive strides (a transposed view
// is a stride swap), operands (and bias [n], contiguous) of type in, y of type out:
// one oneDNN matmul over the whole batch. oneDNN's own primitive cache keeps the
// repeated shapes of a learning phase.
void strided_matmul(const at::Tensor& a, const at::Tensor& b, const at::Tensor& y, dnnl::memory::data_type in,
                    dnnl::memory::data_type out, bool accumulate, const at::Tensor& bias = {}) {
  auto desc = [](const at::Tensor& t, dnnl::memory::data_type type) {
    return dnnl::memory::desc(dnnl::memory::dims(t.sizes().begin(), t.sizes().end()), type,
                              dnnl::memory::dims(t.strides().begin(), t.strides().end()));
  };
  auto& engine = cpu_engine();
  const auto ad = desc(a, in), bd = desc(b, in), yd = desc(y, out);
  dnnl::primitive_attr attr;
  if (accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, dnnl::memory(ad, engine, a.data_ptr())},
                                                {DNNL_ARG_WEIGHTS, dnnl::memory(bd, engine, b.data_ptr())},
                                                {DNNL_ARG_DST, dnnl::memory(yd, engine, y.data_ptr())}};
  std::optional<dnnl::memory::desc> biasd;
  if (bias.defined()) {
    std::vector<int64_t> dims(y.dim(), 1);  // [1, ..., 1, n]: broadcast over the batch and rows
    dims.back() = bias.numel();
    biasd = desc(bias.view(dims), in);
    args.emplace(DNNL_ARG_BIAS, dnnl::memory(*biasd, engine, bias.data_ptr()));
  }
  auto op = biasd ? dnnl::matmul::desc(ad, bd, *biasd, yd) : dnnl::matmul::desc(ad, bd, yd);
  dnnl::matmul prim(dnnl::matmul::primitive_desc(op, attr, engine));
  dnnl::stream stream(engine);
  prim.execute(stream, args);
  stream.wait();
}

// Float32 a [..., m, k] b [..., k, n] as one strided matmul, where ATen's bmm runs
// one product per matrix.
at::Tensor dnnl_bmm(const at::Tensor& a, const at::Tensor& b) {
  using dt = dnnl::memory::data_type;
  auto sizes = a.sizes().vec();
  sizes.back() = b.size(-1);
  auto y = at::empty(sizes, a.options());
  strided_matmul(a, b, y, dt::f32, dt::f32, /*accumulate=*/false);
  return y;
}

bool strides_positive(const at::Tensor& t) {
  for (auto s : t.strides())
    if (s <= 0) return false;
  return true;
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// a [m, k] b [k, n], bf16 operands (either may be a transposed view), as one oneDNN
// product rounded once to bf16: ATen's bf16 mm reaches the same oneDNN, through
// copies of transposed operands and, with a bias, a sum post-op over y filled with it.
at::Tensor bf16_matmul(const at::Tensor& a, const at::Tensor& b, const at::Tensor& bias = {}) {
  auto y = at::empty({a.size(0), b.size(1)}, a.options());
  strided_matmul(a, b, y, dnnl::memory::data_type::bf16, dnnl::memory::data_type::bf16, false, bias);
  return y;
}

// x [m, k] W (+ b) in bf16, W [n, k] (out_by_in) or [k, n].
at::Tensor bf16_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool out_by_in) {
  return bf16_matmul(x, out_by_in ? w.t() : w, b);
}

// What a recorded product's operands are, and so how it multiplies them.
enum class Operands {
  float32,  // oneDNN in float32
  widened,  // bf16 on a CPU without bf16 products: oneDNN on float32 copies
  bf16,     // bf16 where the CPU multiplies it: oneDNN in bf16
};

// y [m, n] = x [m, k] W (+ b) in a pass that records gradients, every product
// through oneDNN (at config B's shapes 10-40% above OpenBLAS's rate through ATen,
// in bf16 8% above ATen's autograd of the same oneDNN products):
//   dx = dy W^T,   dW = x^T dy (W [in, out]) or dy^T x (W [out, in]),   db = sum over m of dy.
// widened: the products run on float32 copies and each result is rounded to bf16: the
// values of x.to(float) -> the float32 product -> .to(bf16), bitwise. The copies are
// made again in backward rather than saved: autograd would hold them from forward to
// backward, twice the bytes of every weight of the model for the whole pass.
// Inputs x [m, k] contiguous, w [n, k] (out_by_in) or [k, n] contiguous, b [n].
template <Operands kOps>
struct RecordedLinear : torch::autograd::Function<RecordedLinear<kOps>> {
  static constexpr bool kWidened = kOps == Operands::widened;
  static at::Tensor wide(const at::Tensor& t) { return kWidened ? t.to(at::kFloat) : t; }
  static at::Tensor stored(const at::Tensor& t) { return kWidened ? t.to(at::kBFloat16) : t; }
  static at::Tensor product(const at::Tensor& a, const at::Tensor& b) {
    return kOps == Operands::bf16 ? bf16_matmul(a, b) : dnnl_matmul(a, b);
  }

  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const c10::optional<at::Tensor>& b, bool out_by_in) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["out_by_in"] = out_by_in;
    ctx->saved_data["bias"] = b.has_value();
    if (kOps == Operands::bf16) return bf16_linear(x, w, b.has_value() ? *b : at::Tensor(), out_by_in);
    const Shape s{x.size(0), x.size(1), out_by_in ? w.size(0) : w.size(1), out_by_in, b.has_value()};
    auto y = at::empty({s.m, s.n}, x.options().dtype(at::kFloat));
    dnnl_product(wide(x), wide(w), b.has_value() ? wide(*b) : at::Tensor(), s, {}, y);
    return stored(y);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const bool out_by_in = ctx->saved_data["out_by_in"].toBool();
    auto dy = wide(grads[0]).contiguous();  // [m, n]
    at::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) {
      const auto w = wide(saved[1]);
      dx = stored(product(dy, out_by_in ? w : w.t()));
    }
    if (ctx->needs_input_grad(1)) {
      const auto x = wide(saved[0]);
      dw = stored(out_by_in ? product(dy.t(), x) : product(x.t(), dy));
    }
    if (ctx->saved_data["bias"].toBool() && ctx->needs_input_grad(2)) db = stored(dy.sum(0));
    return {dx, dw, db, at::Tensor()};
  }
};
using TrainedLinear = RecordedLinear<Operands::float32>;
using WidenedLinear = RecordedLinear<Operands::widened>;
using Bf16Linear = RecordedLinear<Operands::bf16>;

// product(rows) of x [..., in] as contiguous rows [m, in] -> [m, out], shaped back to [..., out].
template <typename P>
at::Tensor by_rows(const at::Tensor& x, const at::Tensor& w, bool w_is_out_by_in, const P& product) {
  auto sizes = x.sizes().vec();
  sizes.back() = w_is_out_by_in ? w.size(0) : w.size(1);
  return product(x.reshape({-1, x.size(-1)}).contiguous()).view(sizes);
}

// Product F (a RecordedLinear) of x [..., in] W (+ b).
template <typename F>
at::Tensor recorded_product(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in) {
  const auto bias = b.defined() ? c10::optional<at::Tensor>(b) : c10::nullopt;
  return by_rows(x, w, w_is_out_by_in, [&](const at::Tensor& x2) { return F::apply(x2, w, bias, w_is_out_by_in); });
}

#endif

// float32 on the CPU, w (and b) contiguous.
bool fast_operands(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  if (!fast_enabled || !x.device().is_cpu() || x.scalar_type() != at::kFloat || w.scalar_type() != at::kFloat) return false;
  if (!w.is_contiguous() || (b.defined() && (!b.is_contiguous() || b.scalar_type() != at::kFloat))) return false;
  return x.numel() > 0;
}

bool fast_applies(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return !at::GradMode::is_enabled() && fast_operands(x, w, b);
}

#ifdef RLHF4J_WITH_DNNL
// Whether autograd records the product x W (+ b).
bool recorded(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad()));
}
#endif

// A product autograd records: TrainedLinear when oneDNN is built in.
bool trained_fast_applies(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
#ifdef RLHF4J_WITH_DNNL
  return recorded(x, w, b) && fast_operands(x, w, b);
#else
  return false;
#endif
}

// A bf16 product where the CPU multiplies bf16: bf16 x, w (and b), w (and b) contiguous.
bool bf16_operands(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
#ifdef RLHF4J_WITH_DNNL
  if (!fast_enabled || !cpu_bf16_matmul_native() || !x.device().is_cpu() || x.numel() == 0) return false;
  if (x.scalar_type() != at::kBFloat16 || w.scalar_type() != at::kBFloat16 || !w.is_contiguous()) return false;
  return !b.defined() || (b.scalar_type() == at::kBFloat16 && b.is_contiguous());
#else
  (void)x, (void)w, (void)b;
  return false;
#endif
}

// A bf16 product on float32 copies that autograd records (WidenedLinear): bf16 x, w
// (and b), w (and b) contiguous.
bool widened_trained_applies(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
#ifdef RLHF4J_WITH_DNNL
  if (!recorded(x, w, b) || !bf16_on_float32_copies(x) || x.numel() == 0) return false;
  if (w.scalar_type() != at::kBFloat16 || !w.is_contiguous()) return false;
  return !b.defined() || (b.scalar_type() == at::kBFloat16 && b.is_contiguous());
#else
  (void)x, (void)w, (void)b;
  return false;
#endif
}

// A bf16 model's decoding products: bf16 x and W (and bias), no gradients.
bool bf16_few_rows_applies(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  if (!fast_enabled || at::GradMode::is_enabled() || !x.device().is_cpu()) return false;
  if (x.scalar_type() != at::kBFloat16 || w.scalar_type() != at::kBFloat16 || !w.is_contiguous()) return false;
  return (!b.defined() || b.scalar_type() == at::kBFloat16) && x.numel() > 0;
}

}  // namespace

PackedWeights::PackedWeights() : cache_(std::make_unique<Cache>()) {
  if (!active_packing) active_packing = cache_.get();  // an inner scope adds nothing
}

PackedWeights::~PackedWeights() {
  if (active_packing == cache_.get()) active_packing = nullptr;
}

int64_t PackedWeights::packings() const { return cache_->packings; }

namespace {

// What few_rows_linear fuses, done after the product by ATen.
at::Tensor then_aten(at::Tensor y, const Epilogue& then) {
  if (then.gelu_tanh) y = gelu_tanh(y);
  if (then.residual.defined()) y = y + then.residual;
  return y;
}

at::Tensor linear_then(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in,
                       const Epilogue& then);

// x (bf16) times w32 plus b32, the float32 copies of a bf16 weight and bias: float32,
// before the rounding to bf16 that is the caller's.
at::Tensor product_of_float32_copies(const at::Tensor& x, const at::Tensor& w32, const at::Tensor& b32,
                                     bool w_is_out_by_in) {
  // A float32 copy is a temporary: the allocator hands its address to the next copy
  // (another weight's), so it must not key the packing cache, which would serve that
  // weight this one's packed values.
  struct NoPacking {
    PackedWeights::Cache* scope = std::exchange(active_packing, nullptr);
    ~NoPacking() { active_packing = scope; }
  } off;
  return linear_then(x.to(at::kFloat), w32, b32, w_is_out_by_in, {});
}

// The fast paths, by shape: reused weights at few rows through the panel
// kernel (AVX-512 or AVX2; oneDNN's blocked layout on CPUs with neither), everything else
// through oneDNN on w as stored.
at::Tensor linear_then(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in,
                       const Epilogue& then) {
  if (bf16_few_rows_applies(x, w, b) && x.numel() / x.size(-1) <= kFewRowsMax) {
    auto x2 = x.reshape({-1, x.size(-1)});
    const Shape s{x2.size(0), x2.size(1), w_is_out_by_in ? w.size(0) : w.size(1), w_is_out_by_in, b.defined()};
    if (reused(w, s) || has_panels(w, w_is_out_by_in)) {
      const auto& panels = active_packing->panels_of(w, w_is_out_by_in, pack_panels_bf16);
      auto sizes = x.sizes().vec();
      sizes.back() = s.n;
      return few_rows_linear_bf16(x2, panels, s.n, b, then).view(sizes);
    }
  }
  if (bf16_on_float32_copies(x) && w.scalar_type() == at::kBFloat16 && fast_enabled) {
#ifdef RLHF4J_WITH_DNNL
    if (widened_trained_applies(x, w, b))
      return then_aten(recorded_product<WidenedLinear>(x, w, b, w_is_out_by_in), then);
#endif
    auto f = [](const at::Tensor& t) { return t.defined() ? t.to(at::kFloat) : t; };
    return then_aten(product_of_float32_copies(x, f(w), f(b), w_is_out_by_in).to(at::kBFloat16), then);
  }
#ifdef RLHF4J_WITH_DNNL
  if (trained_fast_applies(x, w, b)) return then_aten(recorded_product<TrainedLinear>(x, w, b, w_is_out_by_in), then);
  if (bf16_operands(x, w, b)) {
    if (recorded(x, w, b)) return then_aten(recorded_product<Bf16Linear>(x, w, b, w_is_out_by_in), then);
    return then_aten(by_rows(x, w, w_is_out_by_in,
                             [&](const at::Tensor& x2) { return bf16_linear(x2, w, b, w_is_out_by_in); }),
                     then);
  }
#endif
  if (!fast_applies(x, w, b)) return then_aten(linear_reference(x, w, b, w_is_out_by_in), then);
  auto sizes = x.sizes().vec();
  auto x2 = x.reshape({-1, x.size(-1)}).contiguous();
  const Shape s{x2.size(0), x2.size(1), w_is_out_by_in ? w.size(0) : w.size(1), w_is_out_by_in, b.defined()};
  sizes.back() = s.n;
  const bool reuse = reused(w, s);
  const bool residual_fits = !then.residual.defined() || then.residual.scalar_type() == at::kFloat;
  if ((reuse || has_panels(w, w_is_out_by_in)) && s.m <= kFewRowsMax && few_rows_available() && residual_fits) {
    const auto& panels = active_packing->panels_of(w, w_is_out_by_in, pack_panels);
    Epilogue flat{then.gelu_tanh, then.residual.defined() ? then.residual.reshape({s.m, s.n}).contiguous() : at::Tensor()};
    return few_rows_linear(x2, panels, s.n, b, flat).view(sizes);
  }
#ifdef RLHF4J_WITH_DNNL
  return then_aten(dnnl_linear(x2, w, b, s, reuse ? packed_for(w, s) : dnnl::memory()).view(sizes), then);
#else
  return then_aten(linear_reference(x, w, b, w_is_out_by_in), then);
#endif
}

}  // namespace

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in) {
  return linear_then(x, w, b, w_is_out_by_in, {});
}

at::Tensor float32_copy_for_products(const at::Tensor& w) {
  return bf16_on_float32_copies(w) && fast_enabled ? w.to(at::kFloat) : at::Tensor();
}

at::Tensor linear_with_float32_copy(const at::Tensor& x, const at::Tensor& w32, bool w_is_out_by_in) {
  TORCH_CHECK(!at::GradMode::is_enabled() || !x.requires_grad(),
              "linear_with_float32_copy: a pass without gradients only");
  auto y = product_of_float32_copies(x, w32, {}, w_is_out_by_in).contiguous();
  round_through_bf16(y.data_ptr<float>(), y.numel());
  return y;
}

at::Tensor matmul_f32(const at::Tensor& a, const at::Tensor& b) {
#ifdef RLHF4J_WITH_DNNL
  const bool on = fast_enabled && !at::GradMode::is_enabled() && a.device().is_cpu() && b.device().is_cpu() &&
                  a.scalar_type() == at::kFloat && b.scalar_type() == at::kFloat && a.numel() > 0 && b.numel() > 0;
  if (on && a.dim() == 2 && b.dim() == 2) return dnnl_matmul(a, b);
  if (on && a.dim() >= 3 && a.dim() == b.dim() && a.sizes().slice(0, a.dim() - 2) == b.sizes().slice(0, b.dim() - 2) &&
      strides_positive(a) && strides_positive(b))
    return dnnl_bmm(a, b);
#endif
  return at::matmul(a, b);
}

bool matmul_bf16_into_applies(const at::Tensor& a, const at::Tensor& b) {
#ifdef RLHF4J_WITH_DNNL
  return fast_enabled && cpu_bf16_matmul_native() && a.device().is_cpu() && b.device().is_cpu() &&
         a.scalar_type() == at::kBFloat16 && b.scalar_type() == at::kBFloat16 && a.numel() > 0 && b.numel() > 0 &&
         strides_positive(a) && strides_positive(b);
#else
  (void)a;
  (void)b;
  return false;
#endif
}

void matmul_bf16_into(const at::Tensor& a, const at::Tensor& b, const at::Tensor& c, bool accumulate) {
  TORCH_CHECK(matmul_bf16_into_applies(a, b) && a.dim() == 2 && b.dim() == 2 && c.scalar_type() == at::kFloat &&
                  c.is_contiguous() && c.size(0) == a.size(0) && c.size(1) == b.size(1) && a.size(1) == b.size(0),
              "matmul_bf16_into: bf16 [m, k] x [k, n] into a contiguous float32 [m, n]");
#ifdef RLHF4J_WITH_DNNL
  using dt = dnnl::memory::data_type;
  strided_matmul(a, b, c, dt::bf16, dt::f32, accumulate);
#endif
}

at::Tensor linear_gelu_tanh(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in) {
  return linear_then(x, w, b, w_is_out_by_in, Epilogue{true, {}});
}

at::Tensor linear_add(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, bool w_is_out_by_in,
                      const at::Tensor& residual) {
  return linear_then(x, w, b, w_is_out_by_in, Epilogue{false, residual});
}

}  // namespace r4j
