// Random ops and the Generator: each op validates, reserves Philox blocks from a generator and asks
// the backend for a fill (RandomOp); randperm and multinomial turn such fills into indices. In-place
// fills give no gradient to what they overwrite.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "common.h"

namespace ember {

// --- Generator -----------------------------------------------------------------------------------
void Generator::manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> g(mu_);
  seed_ = seed;
  counter_ = 0;
}

uint64_t Generator::initial_seed() const {
  std::lock_guard<std::mutex> g(mu_);
  return seed_;
}

uint64_t Generator::seed() {
  std::random_device rd;
  const uint64_t s = (uint64_t(rd()) << 32) ^ rd();
  manual_seed(s);
  return s;
}

Generator::Draw Generator::reserve(uint64_t nblocks) {
  std::lock_guard<std::mutex> g(mu_);
  Draw d{seed_, counter_};
  counter_ += nblocks;
  return d;
}

std::vector<uint8_t> Generator::get_state() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<uint8_t> s(16);
  for (int i = 0; i < 8; ++i) {
    s[i] = static_cast<uint8_t>(seed_ >> (8 * i));
    s[8 + i] = static_cast<uint8_t>(counter_ >> (8 * i));
  }
  return s;
}

void Generator::set_state(const std::vector<uint8_t>& s) {
  EMBER_CHECK(s.size() == 16, RuntimeError, "set_state: expected a state of 16 bytes, got ", s.size());
  std::lock_guard<std::mutex> g(mu_);
  seed_ = counter_ = 0;
  for (int i = 0; i < 8; ++i) {
    seed_ |= uint64_t(s[i]) << (8 * i);
    counter_ |= uint64_t(s[8 + i]) << (8 * i);
  }
}

const std::shared_ptr<Generator>& default_generator() {
  static const std::shared_ptr<Generator> g = std::make_shared<Generator>();
  return g;
}

}  // namespace ember

namespace ember::ops {

namespace {
Generator& gen_or_default(Generator* g) { return g ? *g : *default_generator(); }

// Fill contiguous `out` with one draw.
void fill_random(const Tensor& out, RandomOp op, const RandomParams& p, Generator* gen) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const uint64_t nblocks = random_is_wide(op, out.dtype(), p) ? (n + 1) / 2 : (n + 3) / 4;
  const Generator::Draw d = gen_or_default(gen).reserve(nblocks);
  backend_of(out).random(op, out, d.key, d.counter, p);
}

Tensor random_tensor(const Shape& shape, DType dtype, RandomOp op, const RandomParams& p, Generator* gen) {
  Tensor out = Tensor::empty(shape, dtype);
  fill_random(out, op, p, gen);
  return out;
}

void check_floating(DType dtype, const char* op) {
  EMBER_CHECK(is_floating(dtype), RuntimeError, op, ": expected a floating-point dtype, got ", dtype);
}

// An in-place random write: overwritten values get no gradient (torch's *Backward0 of random_).
struct RandomFillBackward : Node {
  std::string nm;
  std::string name() const override { return nm; }
  TensorList apply(TensorList&&) override { return {Tensor()}; }
};

// Write a draw into self: straight into its memory when possible, else through a temporary.
Tensor& fill_inplace(Tensor& self, RandomOp op, const RandomParams& p, Generator* gen, const char* name,
                     const char* node_name) {
  check_inplace(self, name);
  const bool record = GradMode::is_enabled() && self.requires_grad();
  if (!record && self.is_contiguous()) {
    fill_random(self, op, p, gen);
    self.bump_version();
    return self;
  }
  Tensor result = random_tensor(self.shape(), self.dtype(), op, p, gen);
  if (!record) {
    copy_into(self, result);
    self.bump_version();
    return self;
  }
  if (auto node = make_node<RandomFillBackward>({self})) {
    node->nm = node_name;
    set_history(result, node);
  }
  commit_inplace(self, result);
  return self;
}

// 0/1 values of `dtype` in the shape of `like`: uniform < p (p broadcast to the shape).
Tensor bernoulli_mask(const Shape& shape, const Tensor& p, DType dtype, Generator* gen) {
  Tensor u = random_tensor(shape, DType::Float64, RandomOp::Uniform, RandomParams{}, gen);
  return cast_raw(compare(BinaryOp::Lt, u, p), dtype);
}

void check_probability_tensor(const Tensor& p, const char* op) {
  EMBER_CHECK(is_floating(p.dtype()), RuntimeError, op, ": expected a floating-point probability tensor, got ",
              p.dtype());
  Tensor pd = p.detach();
  Tensor ok = logical(BinaryOp::LogicalAnd, compare(BinaryOp::Ge, pd, wrap_scalar(Scalar(0.0))),
                      compare(BinaryOp::Le, pd, wrap_scalar(Scalar(1.0))));
  EMBER_CHECK(!any_true(logical_not(ok)), RuntimeError, op,
              ": Expected p_in >= 0 && p_in <= 1 to be true, but got false.");
}
}  // namespace

void manual_seed(uint64_t seed) { default_generator()->manual_seed(seed); }
uint64_t initial_seed() { return default_generator()->initial_seed(); }

Tensor rand(const Shape& shape, DType dtype, Generator* gen) {
  check_floating(dtype, "rand");
  return random_tensor(shape, dtype, RandomOp::Uniform, RandomParams{}, gen);
}

Tensor randn(const Shape& shape, DType dtype, Generator* gen) {
  check_floating(dtype, "randn");
  return random_tensor(shape, dtype, RandomOp::Normal, RandomParams{}, gen);
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype, Generator* gen) {
  EMBER_CHECK(low < high, RuntimeError, "random_ expects 'from' to be less than 'to', but got from=", low,
              " >= to=", high);
  RandomParams p;
  p.low = low;
  p.range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  return random_tensor(shape, dtype, RandomOp::RandInt, p, gen);
}

Tensor randperm(int64_t n, DType dtype, Generator* gen) {
  EMBER_CHECK(n >= 0, RuntimeError, "randperm: n must be non-negative, got ", n);
  Tensor perm = Tensor::empty({n}, DType::Int64);
  int64_t* q = perm.data<int64_t>();
  std::iota(q, q + n, int64_t(0));
  if (n > 1) {  // Fisher-Yates with pre-drawn 64-bit words (swap i with j <= i)
    Tensor bits = random_tensor({n - 1}, DType::Int64, RandomOp::Bits, RandomParams{}, gen);
    const uint64_t* r = reinterpret_cast<const uint64_t*>(bits.data<int64_t>());
    for (int64_t i = n - 1; i > 0; --i) std::swap(q[i], q[r[n - 1 - i] % static_cast<uint64_t>(i + 1)]);
  }
  return cast_raw(perm, dtype);
}

Tensor& uniform_(Tensor& self, double from, double to, Generator* gen) {
  check_floating(self.dtype(), "uniform_");
  EMBER_CHECK(from <= to, RuntimeError, "uniform_ expects to return a [from, to) range, but found from=", from,
              " > to=", to);
  RandomParams p;
  p.a = from;
  p.b = to;
  return fill_inplace(self, RandomOp::Uniform, p, gen, "uniform_", "UniformBackward0");
}

Tensor& normal_(Tensor& self, double mean, double std, Generator* gen) {
  check_floating(self.dtype(), "normal_");
  EMBER_CHECK(std >= 0, RuntimeError, "normal expects std >= 0.0, but found std ", std);
  RandomParams p;
  p.a = mean;
  p.b = std;
  return fill_inplace(self, RandomOp::Normal, p, gen, "normal_", "NormalBackward0");
}

Tensor normal(const Tensor& mean, const Tensor& std, Generator* gen) {
  Tensor m = mean.detach(), s = std.detach();
  DType rt = result_type(m, s);
  EMBER_CHECK(is_floating(rt), RuntimeError, "normal: expected floating-point mean and std, got ", rt);
  EMBER_CHECK(!any_true(compare(BinaryOp::Lt, s, wrap_scalar(Scalar(0.0)))), RuntimeError,
              "normal expects all elements of std >= 0.0");
  Tensor z = random_tensor(broadcast_shapes(m.shape(), s.shape(), "normal"), rt, RandomOp::Normal, RandomParams{}, gen);
  NoGradGuard ng;
  return add(mul(z, s), m);
}

// --- dropout -----------------------------------------------------------------------------------
// out = (x * keep) / (1 - p), keep = rand(x.shape, x.dtype) >= p: the same draw, mask and values as
// that composition (so seeded runs do not change), in one fused pass. The gradient applies the same
// mask and scale, and so does its own gradient (linear), so create_graph works through the pair.
namespace {
struct DropoutMask {
  Tensor keep;  // bool, x's shape
  double p = 0;
};

Tensor dropout_apply(const Tensor& g, const std::shared_ptr<const DropoutMask>& m);

struct DropoutBackward : Node {
  std::shared_ptr<const DropoutMask> m;
  std::string name() const override { return "NativeDropoutBackward0"; }
  TensorList apply(TensorList&& g) override {
    if (!GradMode::is_enabled() && owned_grad(g[0], m->keep)) {  // written over g
      backend_of(g[0]).dropout_backward(g[0], m->keep, g[0], m->p);
      return {g[0]};
    }
    return {dropout_apply(g[0], m)};
  }
};

Tensor dropout_apply(const Tensor& g, const std::shared_ptr<const DropoutMask>& m) {
  Tensor gc = g.detach();
  if (!gc.is_contiguous()) {
    NoGradGuard ng;
    gc = contiguous(gc);
  }
  Tensor out = Tensor::empty(g.shape(), g.dtype(), g.device());
  backend_of(g).dropout_backward(gc, m->keep, out, m->p);
  if (auto node = make_node<DropoutBackward>({g})) {
    node->m = m;
    set_history(out, node);
  }
  return out;
}
}  // namespace

Tensor dropout(const Tensor& x, double p, Generator* gen) {
  check_floating(x.dtype(), "dropout");
  EMBER_CHECK(p > 0 && p < 1, RuntimeError, "dropout: expected a probability in (0, 1) here, got ", p);
  Tensor xc = x.detach();
  if (!xc.is_contiguous()) {
    NoGradGuard ng;
    xc = contiguous(xc);
  }
  auto m = std::make_shared<DropoutMask>();
  m->p = p;
  m->keep = Tensor::empty(x.shape(), DType::Bool, x.device());
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t n = x.numel();
  if (n > 0) {  // the blocks rand(x.shape, x.dtype) reserves
    const uint64_t nblocks = random_is_wide(RandomOp::Uniform, x.dtype(), RandomParams{}) ? (n + 1) / 2 : (n + 3) / 4;
    const Generator::Draw d = gen_or_default(gen).reserve(nblocks);
    backend_of(x).dropout(xc, out, m->keep, p, d.key, d.counter);
  }
  if (auto node = make_node<DropoutBackward>({x})) {
    node->m = m;
    set_history(out, node);
  }
  return out;
}

Tensor bernoulli(const Tensor& p, Generator* gen) {
  check_probability_tensor(p, "bernoulli");
  return bernoulli_mask(p.shape(), p.detach(), p.dtype(), gen);
}

Tensor& bernoulli_(Tensor& self, const Tensor& p, Generator* gen) {
  check_probability_tensor(p, "bernoulli_");
  check_inplace(self, "bernoulli_");
  Tensor mask = bernoulli_mask(self.shape(), p.detach(), self.dtype(), gen);
  if (GradMode::is_enabled() && self.requires_grad()) {
    if (auto node = make_node<RandomFillBackward>({self})) {
      node->nm = "BernoulliBackward0";
      set_history(mask, node);
    }
    commit_inplace(self, mask);
    return self;
  }
  copy_into(self, mask);
  self.bump_version();
  return self;
}

Tensor& bernoulli_(Tensor& self, double p, Generator* gen) {
  EMBER_CHECK(p >= 0 && p <= 1, RuntimeError, "bernoulli_ expects p to be in [0, 1], but got p=", p);
  return bernoulli_(self, wrap_scalar(Scalar(p)), gen);
}

Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement, Generator* gen) {
  EMBER_CHECK(probs.dim() == 1 || probs.dim() == 2, RuntimeError, "multinomial: prob_dist must be 1 or 2 dim, got ",
              probs.dim());
  EMBER_CHECK(is_floating(probs.dtype()), RuntimeError, "multinomial only supports floating-point dtypes for input, got ",
              probs.dtype());
  EMBER_CHECK(num_samples > 0, RuntimeError, "multinomial: cannot sample n_sample <= 0 samples");
  const int64_t rows = probs.dim() == 2 ? probs.shape()[0] : 1, C = probs.shape().back();
  EMBER_CHECK(C > 0, RuntimeError, "multinomial: number of categories cannot be zero");
  EMBER_CHECK(replacement || num_samples <= C, RuntimeError,
              "multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement");
  Tensor w = cast_raw(probs.detach(), DType::Float64);
  if (!w.is_contiguous()) w = clone(w);
  const double* pw = w.data<double>();
  for (int64_t i = 0; i < rows * C; ++i)
    EMBER_CHECK(std::isfinite(pw[i]) && pw[i] >= 0, RuntimeError,
                "multinomial: probability tensor contains either `inf`, `nan` or element < 0");
  Shape out_shape = probs.dim() == 2 ? Shape{rows, num_samples} : Shape{num_samples};
  Tensor out = Tensor::empty(out_shape, DType::Int64);
  int64_t* po = out.data<int64_t>();
  const int64_t draws = replacement ? num_samples : C;
  Tensor u = random_tensor({rows, draws}, DType::Float64, RandomOp::Uniform, RandomParams{}, gen);
  const double* pu = u.data<double>();
  std::vector<double> cdf(C);
  std::vector<int64_t> idx(C);
  for (int64_t r = 0; r < rows; ++r) {
    const double* wr = pw + r * C;
    const double* ur = pu + r * draws;
    int64_t* orow = po + r * num_samples;
    std::partial_sum(wr, wr + C, cdf.begin());
    int64_t nonzero = 0, last = 0;
    for (int64_t k = 0; k < C; ++k)
      if (wr[k] > 0) ++nonzero, last = k;
    EMBER_CHECK(nonzero > 0, RuntimeError, "multinomial: invalid multinomial distribution (sum of probabilities <= 0)");
    if (replacement) {  // inverse CDF
      for (int64_t s = 0; s < num_samples; ++s) {
        const int64_t k = std::upper_bound(cdf.begin(), cdf.end(), ur[s] * cdf[C - 1]) - cdf.begin();
        orow[s] = std::min(k, last);
      }
      continue;
    }
    // Exponential race: the k smallest of E_c / w_c are a weighted sample without replacement;
    // zero-weight categories come last, by index (torch's behaviour when too few are positive).
    for (int64_t k = 0; k < C; ++k) cdf[k] = wr[k] > 0 ? -std::log1p(-ur[k]) / wr[k] : INFINITY;
    std::iota(idx.begin(), idx.end(), int64_t(0));
    std::partial_sort(idx.begin(), idx.begin() + num_samples, idx.end(),
                      [&](int64_t a, int64_t b) { return cdf[a] < cdf[b] || (cdf[a] == cdf[b] && a < b); });
    std::copy(idx.begin(), idx.begin() + num_samples, orow);
  }
  return out;
}

}  // namespace ember::ops
