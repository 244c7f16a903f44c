// CPU elementwise kernels: copy (with casts), fill, unary, binary, where. Each op's scalar math
// is in ../functors.h; float32 transcendentals use the vectorisable versions in vec_math.h
// instead of libm. The strided/broadcast iteration is loops.h.
#include <cmath>
#include <limits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "../functors.h"
#include "cpu_backend.h"
#include "loops.h"
#include "vec_math.h"
#include "vec_math_avx512.h"

// GCC 12's avx512fintrin.h seeds masked builtins with _mm512_undefined_ps(), which
// -W(maybe-)uninitialized flags once the AVX-512 kernels inline them (a false positive; as in
// gemm_avx512.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace ember::cpu {

void copy(const Tensor& src, const Tensor& dst) {
  if (dst.numel() == 0) return;
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous() && src.shape() == dst.shape()) {
    const size_t nbytes = dst.numel() * dst.itemsize();
    char* d = static_cast<char*>(dst.raw_data());
    const char* s = static_cast<const char*>(src.raw_data());
    if (d == s) return;
    // split from 128 KiB (torch's grain for floats): at 2 threads a 1 MiB clone took 23 us in one
    // piece (1 MiB grain) and 13-15 in two; at 1 thread the pieces cost nothing
    parallel_for(0, static_cast<int64_t>(nbytes), 1 << 17, [&](int64_t b, int64_t e) {
      std::memcpy(d + b, s + b, e - b);
    });
    return;
  }
  if (copy_transposed(src, dst)) return;
  if (dst.numel() == 1) {  // a 0-d cast (wrapped numbers in mixed-dtype ops): no iterator
    dispatch_all(dst.dtype(), "copy", [&](auto dtag) {
      using D = decltype(dtag);
      dispatch_all(src.dtype(), "copy", [&](auto stag) {
        using S = decltype(stag);
        const S v = *static_cast<const S*>(src.raw_data());
        if constexpr (std::is_same_v<D, bool>) *static_cast<D*>(dst.raw_data()) = v != S(0);
        else *static_cast<D*>(dst.raw_data()) = static_cast<D>(v);
      });
    });
    return;
  }
  StridedIter it(dst, {&src});
  dispatch_all(dst.dtype(), "copy", [&](auto dtag) {
    using D = decltype(dtag);
    dispatch_all(src.dtype(), "copy", [&](auto stag) {
      using S = decltype(stag);
      it.for_each([](char** p, const int64_t* s, int64_t n) {
        unary_loop<D, S>(p, s, n, [](S v) {
          if constexpr (std::is_same_v<D, bool>) return v != S(0);
          else return static_cast<D>(v);
        });
      });
    });
  });
}

void fill(const Tensor& dst, Scalar value) {
  if (dst.numel() == 1) {  // 0-d tensors (wrapped numbers): no iterator
    dispatch_all(dst.dtype(), "fill", [&](auto tag) {
      using T = decltype(tag);
      *static_cast<T*>(dst.raw_data()) = value.to<T>();
    });
    return;
  }
  StridedIter it(dst, {});
  dispatch_all(dst.dtype(), "fill", [&](auto tag) {
    using T = decltype(tag);
    const T v = value.to<T>();
    it.for_each([v](char** p, const int64_t* s, int64_t n) {
      if (s[0] == sizeof(T)) {
        fill_run(reinterpret_cast<T*>(p[0]), n, v);
      } else {
        for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = v;
      }
    });
  });
}

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
EMBER_ATTR_AVX512 void exp_f32_avx512(float* o, const float* a, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(o + i, m, exp_avx512(_mm512_maskz_loadu_ps(m, a + i)));
  }
}

// log1p_f32 on log_avx512: log(u) * x / (u - 1), u = fl(1 + x); x where u == 1 or x == inf
EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512 log1p_avx512(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 u = _mm512_add_ps(one, x), um1 = _mm512_sub_ps(u, one);
  const __mmask16 exact = _mm512_cmp_ps_mask(um1, _mm512_setzero_ps(), _CMP_EQ_OQ) |
                          _mm512_cmp_ps_mask(x, _mm512_set1_ps(std::numeric_limits<float>::infinity()), _CMP_EQ_OQ);
  const __m512 res = _mm512_mul_ps(log_avx512(u), _mm512_div_ps(x, _mm512_mask_mov_ps(um1, exact, one)));
  return _mm512_mask_mov_ps(res, exact, x);
}

// R rows of 32 per-interval coefficients held in zmm pairs; row(r, idx) picks each lane's entry
// (the low 5 bits of idx) by vpermt2ps, horner(first, idx, t) sums row(r) t^(r - first) for
// r >= first. gelu's and tanh's piecewise polynomials.
template <int R>
struct PolyTable32 {
  __m512 lo[R], hi[R];
  EMBER_ATTR_AVX512 explicit PolyTable32(const float (&tab)[R][32]) {
    for (int r = 0; r < R; ++r) lo[r] = _mm512_load_ps(tab[r]), hi[r] = _mm512_load_ps(tab[r] + 16);
  }
  EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512 row(int r, __m512i idx) const {
    return _mm512_permutex2var_ps(lo[r], idx, hi[r]);
  }
  EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512 horner(int first, __m512i idx, __m512 t) const {
    __m512 p = row(R - 1, idx);
    for (int r = R - 2; r >= first; --r) p = _mm512_fmadd_ps(p, t, row(r, idx));
    return p;
  }
};

// gelu_f32's negative tail (x < -4, NaN, -inf) on AVX-512: -|x| erfc(|x| / sqrt 2) / 2 with the
// same split of -x^2/2 into hi + lo, the same degree-11 R in t = 1/(1 + |x|/sqrt 2) and exp_f32's
// reduction and polynomial, with vscalefps for the 2^n (one rounding for subnormal results).
// gelu(-inf) = NaN (as torch).
EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512 gelu_tail_avx512(__m512 x) {
  static constexpr float kR[12] = {2.1291680335998535f,  -9.833063125610352f,  19.685331344604492f, -21.748130798339844f,
                                   13.541252136230469f,  -3.8799142837524414f, 0.08262978494167328f, -0.39538145065307617f,
                                   0.2930324673652649f,  0.5635144114494324f,  0.5642135143280029f,  -3.687052299028437e-07f};
  const __m512 a = _mm512_min_ps(_mm512_set1_ps(14.85f), _mm512_abs_ps(x));  // (NaN passes)
  const __m512 ah = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(~0xfff)));
  const __m512 hi = _mm512_mul_ps(_mm512_mul_ps(ah, ah), _mm512_set1_ps(-0.5f));  // exact
  const __m512 lo = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(a, ah), _mm512_add_ps(a, ah)), _mm512_set1_ps(-0.5f));
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(a, _mm512_set1_ps(0.70710678118654752f),
                                                                      _mm512_set1_ps(1.0f)));
  __m512 q = _mm512_set1_ps(kR[0]);
  for (int k = 1; k < 12; ++k) q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(kR[k]));
  const __m512 v = _mm512_max_ps(hi, _mm512_set1_ps(-104.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_add_ps(v, lo), _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), v);
  r = _mm512_add_ps(_mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r), lo);
  const __m512 e = exp_poly_avx512(r);
  const __m512 xq = _mm512_scalef_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(a, _mm512_set1_ps(0.5f)), q), e), n);
  const __m512 res = _mm512_sub_ps(_mm512_setzero_ps(), xq);  // x < 0: -xq (-0 where it underflows)
  return _mm512_mask_mov_ps(res, _mm512_cmp_ps_mask(x, _mm512_set1_ps(-std::numeric_limits<float>::infinity()), _CMP_EQ_OQ),
                            _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN()));
}

// gelu (exact) for float32 on AVX-512: x Phi(x) with Phi from one of 32 polynomials over
// [-4, 6] (intervals of 5/16, centres c): Phi(c + t) = c0 + t P(t), c0 in two floats (high, low)
// and P of degree 6 (fitted for relative error, 0.77 ulp before rounding at -4, less above),
// picked per lane by vpermt2ps, and gelu = fma(x, c0_high, x (t P(t) + c0_low)) (about 40
// instructions a vector, where gelu_f32 takes 85). x > 6 gives x (Phi rounds to 1). Lanes below -4
// (and NaN), where Phi's tail needs the exp, take gelu_tail_avx512 (computed only for vectors
// holding such a lane), so every element still depends on its own value only. Within 0.74 ulp
// above -0.7, 1.21 on [-3, -0.7], 2.3 on [-4, -3], 4.6 below. 32K elements, 1T: 11.5 / 16.4 /
// 24.8 us for inputs of standard deviation 1 / 2 / 3 (gelu_f32: 22.9; torch: 18-19). The tail
// lanes are queued and computed 16 at a time (LaneQueue); std 3, 1T, 32K / 1M elements: forward
// 34.5 -> 25.6 / 1143 -> 850 us, gradient 45 -> 39 / 1384 -> 1220 us (another session's machine
// state: std 1 takes 16.4 / 482).
alignas(64) constexpr float kGeluPhi[9][32] = {
    {6.058422150090337e-05f, 0.0002068003232125193f, 0.0006437533884309232f, 0.0018289453582838178f, 0.004746774677187204f, 0.011266828514635563f, 0.024490904062986374f, 0.04883560165762901f, 0.08951462060213089f, 0.15121179819107056f, 0.23614747822284698f, 0.34227946400642395f, 0.46265387535095215f, 0.5865775942802429f, 0.702377200126648f, 0.8005954623222351f, 0.8762105703353882f, 0.9290496706962585f, 0.9625641703605652f, 0.9818588495254517f, 0.9919413924217224f, 0.9967235326766968f, 0.9987822771072388f, 0.9995867013931274f, 0.9998720288276672f, 0.9999638795852661f, 0.999990701675415f, 0.9999977946281433f, 0.9999995231628418f, 0.9999998807907104f, 1.0f, 1.0f},  // c0 (high)
    {-4.7673074255599746e-14f, -7.010250019368058e-12f, 2.588617167842422e-11f, -1.9210168178407372e-11f, -1.436419594380567e-10f, 2.745745020238388e-10f, -7.987530636910378e-10f, -9.260677780176252e-10f, 8.398007844689914e-10f, 1.2589330689039002e-09f, 6.750007663924862e-09f, -4.322473046158848e-09f, 9.372114195826953e-11f, 6.861307966232744e-09f, 2.5506944112407837e-08f, -2.2793607001858618e-08f, -2.7087082798971096e-08f, 2.416475197719592e-08f, 2.0276914369787846e-08f, 2.2311041902867146e-08f, -7.947529745422344e-09f, 1.1568395130723275e-08f, 5.353939958041565e-09f, 2.768385165552445e-08f, 5.288162796546203e-09f, -4.9012780500845565e-09f, 6.003133989906928e-09f, 2.861736447812291e-08f, 1.2666237836356231e-08f, 2.914193331093884e-08f, -1.589783948929835e-08f, -2.5519302226939544e-09f},  // c0 (low)
    {0.0002469942264724523f, 0.00078188581392169f, 0.0022448550444096327f, 0.005845500621944666f, 0.013805226422846317f, 0.029570166021585464f, 0.05744502693414688f, 0.10121376067399979f, 0.16173912584781647f, 0.2344115823507309f, 0.3081282079219818f, 0.3673434257507324f, 0.39719295501708984f, 0.38951054215431213f, 0.34643787145614624f, 0.2794601619243622f, 0.20445741713047028f, 0.13566701114177704f, 0.08164584636688232f, 0.044563814997673035f, 0.022060688585042953f, 0.009904765523970127f, 0.00403327401727438f, 0.0014895658241584897f, 0.0004989420413039625f, 0.00015157548477873206f, 4.176343645667657e-05f, 1.0436428965476807e-05f, 2.3653535663470393e-06f, 4.862152991336188e-07f, 9.06461963268157e-08f, 1.532706583873278e-08f},  // c1
    {0.00047469206037931144f, 0.0013805171474814415f, 0.003612813539803028f, 0.008494243025779724f, 0.017903652042150497f, 0.033728472888469696f, 0.05654745176434517f, 0.08381764590740204f, 0.10866847634315491f, 0.12086847424507141f, 0.11073357611894608f, 0.07461663335561752f, 0.018618419766426086f, -0.042602717876434326f, -0.09202255308628082f, -0.11789724975824356f, -0.11820194125175476f, -0.09963046759366989f, -0.07271583378314972f, -0.046652745455503464f, -0.02654176577925682f, -0.013464289717376232f, -0.006112930830568075f, -0.0024903679732233286f, -0.0009121284820139408f, -0.00030078261625021696f, -8.93998658284545e-05f, -2.3971180780790746e-05f, -5.802511168440105e-06f, -1.268719302061072e-06f, -2.5069380171771627e-07f, -4.478389215023526e-08f},  // c2
    {0.0005670334212481976f, 0.0014946697046980262f, 0.003502106061205268f, 0.007254548836499453f, 0.013178329914808273f, 0.02071933075785637f, 0.02753509022295475f, 0.02940536104142666f, 0.021717898547649384f, 0.0024799408856779337f, -0.024824779480695724f, -0.05111956596374512f, -0.06561700254678726f, -0.06181197986006737f, -0.04144398495554924f, -0.013418091461062431f, 0.011480762623250484f, 0.026166245341300964f, 0.029567385092377663f, 0.025132425129413605f, 0.017611926421523094f, 0.010551218874752522f, 0.005504394881427288f, 0.0025274616200476885f, 0.0010284995660185814f, 0.00037264771526679397f, 0.00012062047608196735f, 3.496645877021365e-05f, 9.095295354200061e-06f, 2.126006165781291e-06f, 4.4710864699482045e-07f, 8.468063583677576e-08f},  // c3
    {0.00046576710883527994f, 0.00108943204395473f, 0.002215983346104622f, 0.003855206072330475f, 0.005561405792832375f, 0.0061950660310685635f, 0.004127770662307739f, -0.0017940737307071686f, -0.010815633460879326f, -0.019505321979522705f, -0.022916093468666077f, -0.017627719789743423f, -0.004640904255211353f, 0.010480654425919056f, 0.020841136574745178f, 0.022479761391878128f, 0.01638166606426239f, 0.006997270509600639f, -0.001047302968800068f, -0.005379740614444017f, -0.006171052809804678f, -0.004927515517920256f, -0.0031525054946541786f, -0.0016977518098428845f, -0.0007880934863351285f, -0.0003196035395376384f, -0.0001141988905146718f, -3.6159872252028435e-05f, -1.0188048690906726e-05f, -2.562005647632759e-06f, -5.763828880844812e-07f, -1.1622029205682338e-07f},  // c4
    {0.0002730115957092494f, 0.00054519297555089f, 0.0009011569200083613f, 0.0011525447480380535f, 0.0009081311291083694f, -0.00028138721245341003f, -0.002504766220226884f, -0.005004796199500561f, -0.006164169404655695f, -0.004394985735416412f, 0.0004292833909858018f, 0.006235390901565552f, 0.009755365550518036f, 0.008813262917101383f, 0.004002314992249012f, -0.0017806424293667078f, -0.005510292947292328f, -0.005980337504297495f, -0.0040619950741529465f, -0.001517114695161581f, 0.00032800290500745177f, 0.0010966322151944041f, 0.001085537252947688f, 0.000756251101847738f, 0.0004220210248604417f, 0.00019779105787165463f, 7.969167927512899e-05f, 2.79779178526951e-05f, 8.633153811388183e-06f, 2.35534548664873e-06f, 5.706074261979666e-07f, 1.2314686159697885e-07f},  // c5
    {0.0001128842486650683f, 0.00017523211135994643f, 0.00018667876429390162f, 4.2065337765961885e-05f, -0.00035073558683507144f, -0.000931926304474473f, -0.0013664503348991275f, -0.0011335475137457252f, 6.704896077280864e-05f, 0.0018408596515655518f, 0.0030924815218895674f, 0.002757286885753274f, 0.0007667180616408587f, -0.0017088387394323945f, -0.00311670801602304f, -0.002735762856900692f, -0.0011223758338019252f, 0.0005231454852037132f, 0.0013373015681281686f, 0.0012427810579538345f, 0.0006916740676388144f, 0.00016235225484706461f, -0.0001261290453840047f, -0.0001941597874974832f, -0.0001519468642072752f, -8.838787471177056e-05f, -4.1828956454992294e-05f, -1.672027792665176e-05f, -5.7582196859584656e-06f, -1.7291215499426471e-06f, -4.5634232037627953e-07f, -1.0644746595289689e-07f},  // c6
    {2.920225597335957e-05f, 2.3848935597925447e-05f, -1.980864180950448e-05f, -0.00011675170389935374f, -0.0002350241702515632f, -0.0002697079034987837f, -9.027704072650522e-05f, 0.0003196797624696046f, 0.0007393525447696447f, 0.0007925143581815064f, 0.00027135791606269777f, -0.0005736892344430089f, -0.0011436768108978868f, -0.0009926505153998733f, -0.00024123564071487635f, 0.0005376921035349369f, 0.000836910679936409f, 0.0005992077640257776f, 0.000142554723424837f, -0.00019014863937627524f, -0.0002753303269855678f, -0.00019250615150667727f, -7.414061110466719e-05f, 2.7418382160249166e-06f, 2.89766066998709e-05f, 2.641618630150333e-05f, 1.5999523384380154e-05f, 7.594123871967895e-06f, 2.988454298247234e-06f, 1.0018367220254731e-06f, 2.905293570165668e-07f, 7.357500209081991e-08f},  // c7
};
// kGeluPhi's interval of x, i = floor((x + 4) / h) with h = 5/16: 2^23 + ((x + 4) / h - 1/2),
// clamped to [0, 31], rounds to 2^23 + i (a tie picks a neighbour, whose polynomial holds at the
// shared end too), read by the permutes from the low 5 bits (NaN lanes, replaced by the callers,
// read any); t = x - the interval's centre.
EMBER_ATTR_AVX512 EMBER_VM_INLINE void gelu_interval_avx512(__m512 x, __m512i& idx, __m512& t) {
  const __m512 v = _mm512_fmadd_ps(x, _mm512_set1_ps(3.2f), _mm512_set1_ps(4.0f * 3.2f - 0.5f));
  const __m512 uf = _mm512_add_ps(_mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(31.0f)),
                                  _mm512_set1_ps(8388608.0f));
  idx = _mm512_castps_si512(uf);
  const __m512 c = _mm512_fmadd_ps(_mm512_sub_ps(uf, _mm512_set1_ps(8388608.0f)), _mm512_set1_ps(0.3125f),
                                   _mm512_set1_ps(-3.84375f));
  t = _mm512_sub_ps(x, c);
}
// Lanes that need a slow path, queued with their output positions and run 16 at a time: with
// inputs of standard deviation 3, one gelu lane in 11 is below -4, but four vectors in five hold
// one, so computing the tail for every such vector cost about as much as the main path. Queued
// lanes are compressed in registers (vcompressps to memory is microcoded on Zen 4). K values a
// lane; run(v, count) gets K vectors of queued values (lanes >= count zero) and returns results
// that flush() writes to out[position], after the main pass stored those positions.
template <int K>
struct LaneQueue {
  alignas(64) float v[K][32];
  alignas(64) int32_t pos[32];
  int n = 0;
  template <class Run>
  EMBER_ATTR_AVX512 EMBER_VM_INLINE void push(__mmask16 lanes, int64_t i, const __m512 (&vals)[K], float* out,
                                              const Run& run) {
    for (int k = 0; k < K; ++k) _mm512_storeu_ps(v[k] + n, _mm512_maskz_compress_ps(lanes, vals[k]));
    const __m512i at = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(i)),
                                        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    _mm512_storeu_si512(pos + n, _mm512_maskz_compress_epi32(lanes, at));
    n += __builtin_popcount(lanes);
    if (n >= 16) {
      flush(16, out, run);
      n -= 16;
      for (int k = 0; k < K; ++k) _mm512_store_ps(v[k], _mm512_load_ps(v[k] + 16));
      _mm512_store_si512(pos, _mm512_load_si512(pos + 16));
    }
  }
  template <class Run>
  EMBER_ATTR_AVX512 void flush(int count, float* out, const Run& run) {
    if (count <= 0) return;
    const __mmask16 m = count >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << count) - 1u);
    __m512 in[K];
    for (int k = 0; k < K; ++k) in[k] = _mm512_maskz_loadu_ps(m, v[k]);
    alignas(64) float res[16];
    _mm512_store_ps(res, run(in));
    for (int j = 0; j < count; ++j) out[pos[j]] = res[j];
  }
};

struct GeluTailLanes {
  EMBER_ATTR_AVX512 __m512 operator()(const __m512 (&in)[1]) const { return gelu_tail_avx512(in[0]); }
};

EMBER_ATTR_AVX512 void gelu_f32_avx512(float* o, const float* a, int64_t n) {
  const PolyTable32<sizeof(kGeluPhi) / sizeof(kGeluPhi[0])> tab(kGeluPhi);
  LaneQueue<1> queue;
  const GeluTailLanes tail_fn;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(m, a + i);
    __m512i idx;
    __m512 t;
    gelu_interval_avx512(x, idx, t);
    const __m512 q = _mm512_fmadd_ps(tab.horner(2, idx, t), t, tab.row(1, idx));
    __m512 res = _mm512_fmadd_ps(x, tab.row(0, idx), _mm512_mul_ps(x, q));
    res = _mm512_mask_mov_ps(res, _mm512_cmp_ps_mask(x, _mm512_set1_ps(6.0f), _CMP_GT_OQ), x);
    _mm512_mask_storeu_ps(o + i, m, res);
    const __mmask16 tail = m & _mm512_cmp_ps_mask(x, _mm512_set1_ps(-4.0f), _CMP_NGE_UQ);
    if (tail) queue.push(tail, i, {x}, o, tail_fn);
  }
  queue.flush(queue.n, o, tail_fn);
}

// gelu's gradient for float32 on AVX-512: g (Phi(x) + x phi(x)), with Phi from gelu_f32_avx512's
// table (c0 + t P(t) on [-4, 6], 1 above 6, gelu_tail_avx512(x) / x below -4 and for NaN and
// -inf) and phi(x) = exp(-x^2 / 2) / sqrt(2 pi) by exp_avx512. The portable GeluBackwardF (erf_f32
// and exp_nonpos) took about 74 cycles a vector; this about 20 (32K elements: 41 -> 11 us). gs, xs:
// 1 for a vector operand, 0 for a scalar broadcast to every lane.
EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512 gelu_pdf_avx512(__m512 x) {
  return _mm512_mul_ps(exp_avx512(_mm512_mul_ps(_mm512_mul_ps(x, x), _mm512_set1_ps(-0.5f))),
                       _mm512_set1_ps(0.39894228040143267794f));
}
struct GeluGradTailLanes {
  EMBER_ATTR_AVX512 __m512 operator()(const __m512 (&in)[2]) const {
    const __m512 x = in[1];
    return _mm512_mul_ps(in[0], _mm512_fmadd_ps(x, gelu_pdf_avx512(x), _mm512_div_ps(gelu_tail_avx512(x), x)));
  }
};

EMBER_ATTR_AVX512 void gelu_backward_f32_avx512(float* o, const float* g, int64_t gs, const float* x, int64_t xs,
                                                int64_t n) {
  const PolyTable32<sizeof(kGeluPhi) / sizeof(kGeluPhi[0])> tab(kGeluPhi);
  const __m512 gb = _mm512_set1_ps(gs ? 0.0f : g[0]), xb = _mm512_set1_ps(xs ? 0.0f : x[0]);
  LaneQueue<2> queue;  // lanes below -4 (and NaN): (g, x), Phi = gelu_tail_avx512(x) / x
  const GeluGradTailLanes tail_fn;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 gv = gs ? _mm512_maskz_loadu_ps(m, g + i) : gb;
    const __m512 xv = xs ? _mm512_maskz_loadu_ps(m, x + i) : xb;
    __m512i idx;
    __m512 t;
    gelu_interval_avx512(xv, idx, t);
    __m512 cdf = _mm512_add_ps(tab.row(0, idx), _mm512_fmadd_ps(tab.horner(2, idx, t), t, tab.row(1, idx)));
    cdf = _mm512_mask_mov_ps(cdf, _mm512_cmp_ps_mask(xv, _mm512_set1_ps(6.0f), _CMP_GT_OQ), _mm512_set1_ps(1.0f));
    _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(gv, _mm512_fmadd_ps(xv, gelu_pdf_avx512(xv), cdf)));
    const __mmask16 tail = m & _mm512_cmp_ps_mask(xv, _mm512_set1_ps(-4.0f), _CMP_NGE_UQ);
    if (tail) queue.push(tail, i, {gv, xv}, o, tail_fn);
  }
  queue.flush(queue.n, o, tail_fn);
}

// tanh for float32 on AVX-512: with a = min(|x|, 9.1) (tanh rounds to 1 from 9.01; NaN passes),
// one of 32 polynomials: [0, 1/8), then quarters of each binade up to 16 (picked from a's bits),
// c = the interval's middle (0 for the first), t = a - c (exact), tanh a = c0 + (t P(t) + c0_low +
// m t), c0 = tanh c in two floats and m = 1 on the first interval (where P fits tanh(t)/t - 1, so
// tanh keeps its relative accuracy near 0), P of degree 5 fitted for relative error, all picked
// per lane by vpermt2ps; then x's sign. Within 0.68 ulp (tanh_f32: 1.1), about 30 instructions a
// vector where tanh_f32 takes 45 and a division.
alignas(64) constexpr float kTanhPoly[9][32] = {
    {0.0f, 0.13970530033111572f, 0.1702023148536682f, 0.2003767192363739f, 0.2301757037639618f, 0.2740615904331207f, 0.33082112669944763f, 0.3852839767932892f, 0.4371887743473053f, 0.5098299980163574f, 0.5963735580444336f, 0.6709671020507812f, 0.7340714931488037f, 0.8093010783195496f, 0.8798267245292664f, 0.9253461956977844f, 0.9540452361106873f, 0.9780260920524597f, 0.9918597340583801f, 0.9969976544380188f, 0.998894453048706f, 0.9997532367706299f, 0.9999666213989258f, 0.9999954700469971f, 0.9999994039535522f, 0.9999999403953552f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f},  // c0 (high)
    {0.0f, 2.4971984480259835e-09f, -6.4472058802778065e-09f, -7.159639547893448e-10f, 7.268170953977915e-09f, -1.472354349552063e-09f, -9.205819218038869e-09f, -1.0523816484919735e-08f, 1.0794407145908735e-08f, -2.4281101573819797e-08f, -2.565191170589287e-09f, -2.784390673582493e-08f, 2.6455538204572804e-08f, -8.117768679483106e-09f, -2.487728067990247e-08f, 2.961395750844531e-08f, 2.406926213893712e-08f, 2.268635412860931e-08f, -9.490172203641123e-09f, -1.8951492819496707e-08f, -1.0322553478658847e-08f, -2.5922602731043298e-08f, -2.424262213196471e-08f, 9.304407022625583e-09f, -1.57580064552576e-08f, 2.914468488768307e-08f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},  // c0 (low)
    {1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},  // t's own coefficient (1 on [0, 1/8), where P holds tanh(t)/t - 1)
    {9.659360117320048e-11f, 0.9804823994636536f, 0.9710311889648438f, 0.9598491787910461f, 0.9470191597938538f, 0.9248902201652527f, 0.8905574083328247f, 0.8515562415122986f, 0.8088659644126892f, 0.7400733828544617f, 0.6443386077880859f, 0.5498031973838806f, 0.4611389935016632f, 0.3450317680835724f, 0.22590497136116028f, 0.14373436570167542f, 0.08979763835668564f, 0.043464917689561844f, 0.016214288771152496f, 0.00599571643397212f, 0.002209892962127924f, 0.0004935282049700618f, 6.680606020381674e-05f, 9.041477824212052e-06f, 1.2236357633810258e-06f, 6.101406313518964e-08f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},  // c1
    {-5.5726040670833754e-08f, -0.13697859644889832f, -0.16527174413204193f, -0.1923314332962036f, -0.21798080205917358f, -0.2534768879413605f, -0.2946151793003082f, -0.32809096574783325f, -0.35362711548805237f, -0.3773115873336792f, -0.3842664957046509f, -0.3688998222351074f, -0.3385090231895447f, -0.2792345881462097f, -0.19875723123550415f, -0.1330040544271469f, -0.08567101508378983f, -0.04250981658697128f, -0.016082298010587692f, -0.005977713968604803f, -0.0022074494045227766f, -0.0004934001481160522f, -6.680297519778833e-05f, -9.041322300618049e-06f, -1.2236193924763938e-06f, -6.095964977248514e-08f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},  // c2
    {-0.33332812786102295f, -0.30769082903862f, -0.2955474257469177f, -0.28141099214553833f, -0.26549917459487915f, -0.23882846534252167f, -0.1993875354528427f, -0.15744391083717346f, -0.11502019315958023f, -0.05432678014039993f, 0.01438649371266365f, 0.06425169855356216f, 0.09477673470973969f, 0.11097480356693268f, 0.09957127273082733f, 0.07516396045684814f, 0.051801733672618866f, 0.027087777853012085f, 0.010546261444687843f, 0.0039609819650650024f, 0.0014682882465422153f, 0.0003284229023847729f, 4.4484517275122926e-05f, 6.021008175594034e-06f, 8.148673487085034e-07f, 3.9868808698884095e-08f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},  // c3
    {-0.00017854358884505928f, 0.0886455625295639f, 0.1053934246301651f, 0.12049867957830429f, 0.13377171754837036f, 0.1499459594488144f, 0.164166659116745f, 0.17002426087856293f, 0.16816124320030212f, 0.1534680724143982f, 0.119509257376194f, 0.07985597848892212f, 0.043263550847768784f, 0.0032674146350473166f, -0.02135244384407997f, -0.025217773392796516f, -0.02086413837969303f, -0.01232297345995903f, -0.005099988542497158f, -0.0019566770642995834f, -0.0007309113861992955f, -0.00016411289107054472f, -2.2247832021093927e-05f, -3.011605031133513e-06f, -4.075890558397077e-07f, -2.0070590522891507e-08f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},  // c4
    {0.13610270619392395f, 0.11195098608732224f, 0.10214193165302277f, 0.09097737818956375f, 0.07874564081430435f, 0.05905572697520256f, 0.03195447474718094f, 0.005928310565650463f, -0.017158744856715202f, -0.043477531522512436f, -0.06156844273209572f, -0.06266862899065018f, -0.053059812635183334f, -0.03203849494457245f, -0.009514003060758114f, 0.001394975814037025f, 0.004600987769663334f, 0.003976817708462477f, 0.0019148169085383415f, 0.0007704917225055397f, 0.0002926466113422066f, 6.830439087934792e-05f, 9.279808182327542e-06f, 1.2565420774990343e-06f, 1.7006651376050286e-07f, 9.577266091298497e-09f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},  // c5
    {-0.019872575998306274f, -0.048204775899648666f, -0.05615122243762016f, -0.0626482367515564f, -0.06753610074520111f, -0.07173831760883331f, -0.07179421186447144f, -0.06621485203504562f, -0.05638569965958595f, -0.03732266649603844f, -0.011653480120003223f, 0.007206962909549475f, 0.01696728728711605f, 0.018480848520994186f, 0.01097811758518219f, 0.004119785502552986f, 0.000650151283480227f, -0.0007184274145402014f, -0.0005455090431496501f, -0.00024345138808712363f, -9.559866884956136e-05f, -2.2508731490233913e-05f, -3.069391368626384e-06f, -4.15821915566994e-07f, -5.628314170280646e-08f, -3.1041718084878767e-09f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f},  // c6
};
EMBER_ATTR_AVX512 void tanh_f32_avx512(float* o, const float* a, int64_t n) {
  const PolyTable32<sizeof(kTanhPoly) / sizeof(kTanhPoly[0])> tab(kTanhPoly);
  const __m512 eighth = _mm512_set1_ps(0.125f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(m, a + i);
    const __m512 ax = _mm512_min_ps(_mm512_set1_ps(9.1f), _mm512_abs_ps(x));  // (min returns NaN's lane)
    const __m512i bits = _mm512_castps_si512(ax);
    // 1 + the quarter-binades above 1/8 (0 below), from the exponent and the top 2 mantissa bits
    const __m512i idx = _mm512_add_epi32(
        _mm512_max_epi32(_mm512_srai_epi32(_mm512_sub_epi32(bits, _mm512_castps_si512(eighth)), 21),
                         _mm512_set1_epi32(-1)),
        _mm512_set1_epi32(1));
    // the quarter's middle: a's sign, exponent and top 2 mantissa bits, then a 1 (0 below 1/8)
    const __m512 c = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(ax, eighth, _CMP_GE_OQ),
                                         _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
                                             bits, _mm512_set1_epi32(static_cast<int32_t>(0xffe00000u)),
                                             _mm512_set1_epi32(0x00100000), 0xea)));  // (A & B) | C
    const __m512 t = _mm512_sub_ps(ax, c);
    const __m512 low = _mm512_fmadd_ps(tab.row(2, idx), t, tab.row(1, idx));
    const __m512 res = _mm512_add_ps(tab.row(0, idx), _mm512_fmadd_ps(tab.horner(3, idx, t), t, low));
    // |res| with x's sign (tanh(-0) = -0)
    const __m512 out = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
        _mm512_castps_si512(res), _mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff), 0xe4));  // mask ? res : x
    _mm512_mask_storeu_ps(o + i, m, out);
  }
}

// o[i] = V(a[i]) over contiguous float runs, 16 lanes a step, the tail under a mask
template <__m512 (*V)(__m512)>
EMBER_ATTR_AVX512 void unary_avx512(float* o, const float* a, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    _mm_prefetch(reinterpret_cast<const char*>(a + i) + 2048, _MM_HINT_T0);
    _mm512_mask_storeu_ps(o + i, m, V(_mm512_maskz_loadu_ps(m, a + i)));
  }
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
// out with the lanes set in `lanes` replaced by f(lane): the kernels' exact (libm) path for the
// lanes outside their fast path's domain
template <class F>
EMBER_ATTR_AVX512 __m512 redo_lanes(__m512 out, __mmask16 lanes, const F& f) {
  if (!lanes) return out;
  alignas(64) float buf[16];
  _mm512_store_ps(buf, out);
  for (int l = 0; l < 16; ++l)
    if (lanes >> l & 1) buf[l] = f(l);
  return _mm512_load_ps(buf);
}

// 2^t in double: 2^n * sum_{j <= 8} (f ln2)^j / j!, f = t - n in [-1/2, 1/2] (relative error
// below 2^-32), scaled by vscalefpd (overflow to inf, underflow to 0; no integer conversion).
EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512d exp2_pd(__m512d t) {
  const __m512d nr = _mm512_roundscale_pd(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512d u = _mm512_mul_pd(_mm512_sub_pd(t, nr), _mm512_set1_pd(0.6931471805599453094));
  __m512d p = _mm512_set1_pd(1.0 / 40320);
  p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(1.0 / 5040));
  p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(1.0 / 720));
  p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(1.0 / 120));
  p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(1.0 / 24));
  p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(1.0 / 6));
  p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(0.5));
  p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(1.0));
  p = _mm512_fmadd_pd(p, u, _mm512_set1_pd(1.0));
  return _mm512_scalef_pd(p, nr);
}

// The 16 intervals of [0.699, 1.398) that pow and log_pd split a mantissa z into (by its top 4
// bits, after subtracting the pattern of 0.69921875): 1/c and log2(c) for each one's middle c.
alignas(64) constexpr double kLog2InvC[16] = {
    1.3989071038251366, 1.3403141361256545, 1.2864321608040201, 1.2367149758454106,
    1.1906976744186046, 1.147982062780269,  1.1082251082251082, 1.0711297071129706,
    1.0364372469635628, 0.9980506822612085, 0.9481481481481482, 0.8951048951048951,
    0.847682119205298,  0.8050314465408805, 0.7664670658682635, 0.7314285714285714};
alignas(64) constexpr double kLog2C[16] = {
    -0.4843001617159575,  -0.4225711719642514,  -0.3633753794563512, -0.3065130425006747,
    -0.2518071504105397,  -0.19910010007969525, -0.14825095858394247, -0.09913319201925132,
    -0.05163276841532236, 0.002815015607054118, 0.07681559705083084,  0.1598713367783894,
    0.2384047393250789,   0.3128829552843553,   0.38370429247405213,  0.4512111118323288};
constexpr double kLn2 = 0.6931471805599453094;

// log2(1 + r) for |r| < 0.03: r (1/ln2 - r (1/2ln2 - r (1/3ln2 - ...))), to r^7 (error < 2^-42)
EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512d log2_1p_pd(__m512d r) {
  __m512d p = _mm512_set1_pd(1.0 / (7 * kLn2));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(-1.0 / (6 * kLn2)));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / (5 * kLn2)));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(-1.0 / (4 * kLn2)));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / (3 * kLn2)));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(-1.0 / (2 * kLn2)));
  p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / kLn2));
  return _mm512_mul_pd(p, r);
}

// pow(x, y) for float32 on AVX-512, 16 lanes a step, computed in double: log2(x) = k + log2(c) +
// log1p(r) / ln2 with x = 2^k z, z in [0.699, 1.398) split into 16 intervals by its top mantissa
// bits, c the interval's middle, r = z / c - 1 (|r| < 0.03, a degree-7 series, error < 2^-42),
// then 2^(y log2 x) = 2^n 2^f, |f| <= 1/2 (degree-8 series, relative error < 2^-32), scaled by
// vscalefpd and rounded once to float (overflow to inf and subnormal results included): within
// 0.51 ulp. Lanes with x not positive, normal and finite, or y not finite, take libm's powf (their
// IEEE special cases), so each element's result depends on its own x and y only. Where glibc's
// powf took 135 us for 32K elements (torch's SLEEF 77), this takes 35-38. x = 1 gives 1.
// xs, ys: 1 for a vector operand, 0 for a scalar broadcast to every lane.
EMBER_ATTR_AVX512 void pow_f32_avx512(float* o, const float* x, int64_t xs, const float* y, int64_t ys, int64_t n) {
  const __m512d invc_lo = _mm512_load_pd(kLog2InvC), invc_hi = _mm512_load_pd(kLog2InvC + 8);
  const __m512d logc_lo = _mm512_load_pd(kLog2C), logc_hi = _mm512_load_pd(kLog2C + 8);
  const __m512 xb = _mm512_set1_ps(xs ? 0.0f : x[0]), yb = _mm512_set1_ps(ys ? 0.0f : y[0]);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 xv = xs ? _mm512_maskz_loadu_ps(m, x + i) : xb;
    const __m512 yv = ys ? _mm512_maskz_loadu_ps(m, y + i) : yb;
    // the fast path's lanes: x in [2^-126, inf), |y| < inf
    const __mmask16 ok = _mm512_cmp_ps_mask(xv, _mm512_set1_ps(1.17549435e-38f), _CMP_GE_OQ) &
                         _mm512_cmp_ps_mask(xv, _mm512_set1_ps(std::numeric_limits<float>::infinity()), _CMP_LT_OQ) &
                         _mm512_cmp_ps_mask(_mm512_abs_ps(yv), _mm512_set1_ps(std::numeric_limits<float>::infinity()),
                                            _CMP_LT_OQ);
    const __m512i ix = _mm512_castps_si512(xv);
    const __m512i tmp = _mm512_sub_epi32(ix, _mm512_set1_epi32(0x3f330000));
    const __m512i idx = _mm512_and_si512(_mm512_srli_epi32(tmp, 19), _mm512_set1_epi32(15));
    const __m512i top = _mm512_and_si512(tmp, _mm512_set1_epi32(static_cast<int32_t>(0xff800000u)));
    const __m512 z = _mm512_castsi512_ps(_mm512_sub_epi32(ix, top));
    const __m512i k = _mm512_srai_epi32(tmp, 23);
    __m512d res[2];
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m256i idx_h = h ? _mm512_extracti64x4_epi64(idx, 1) : _mm512_castsi512_si256(idx);
      const __m512i idx64 = _mm512_cvtepi32_epi64(idx_h);
      const __m512d invc = _mm512_permutex2var_pd(invc_lo, idx64, invc_hi);
      const __m512d logc = _mm512_permutex2var_pd(logc_lo, idx64, logc_hi);
      const __m512d zd = _mm512_cvtps_pd(h ? _mm512_extractf32x8_ps(z, 1) : _mm512_castps512_ps256(z));
      const __m512d kd = _mm512_cvtepi32_pd(h ? _mm512_extracti64x4_epi64(k, 1) : _mm512_castsi512_si256(k));
      const __m512d yd = _mm512_cvtps_pd(h ? _mm512_extractf32x8_ps(yv, 1) : _mm512_castps512_ps256(yv));
      const __m512d r = _mm512_fmsub_pd(zd, invc, _mm512_set1_pd(1.0));
      const __m512d l2 = _mm512_add_pd(_mm512_add_pd(kd, logc), log2_1p_pd(r));
      res[h] = exp2_pd(_mm512_mul_pd(yd, l2));
    }
    __m512 out = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(res[0])), _mm512_cvtpd_ps(res[1]), 1);
    // pow(1, y) = 1 exactly (log2(1) comes out as a residual of 1e-19, which a huge y would scale)
    out = _mm512_mask_mov_ps(out, _mm512_cmp_ps_mask(xv, _mm512_set1_ps(1.0f), _CMP_EQ_OQ), _mm512_set1_ps(1.0f));
    out = redo_lanes(out, static_cast<__mmask16>(m & ~ok),
                     [&](int l) { return std::pow(xs ? x[i + l] : x[0], ys ? y[i + l] : y[0]); });
    _mm512_mask_storeu_ps(o + i, m, out);
  }
}

// Float32 functions computed in double on AVX-512, 16 lanes a step (two halves of 8 doubles): the
// double result is rounded once to float, so within about 0.5 ulp. Lanes the fast path does not
// cover (ok clear) take libm's float function, so each element's result depends on its value only.
// Where glibc's scalar calls took 100 (sin, cos) and 55 us (exp2) for 32K elements, these take
// 20 and 15, still behind torch's 12 and 9 (SLEEF in float, 1 ulp): double arithmetic is twice
// the instructions, and its conversions, rounding and scaling run on one port.
template <class Half, float (*Slow)(float)>
EMBER_ATTR_AVX512 void f32_via_double_avx512(float* o, const float* a, int64_t n, const Half& half) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(m, a + i);
    const __m512d lo = half(_mm512_cvtps_pd(_mm512_castps512_ps256(x)));
    const __m512d hi = half(_mm512_cvtps_pd(_mm512_extractf32x8_ps(x, 1)));
    __m512 out = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
    out = redo_lanes(out, static_cast<__mmask16>(m & ~half.ok(x)), [&](int l) { return Slow(a[i + l]); });
    _mm512_mask_storeu_ps(o + i, m, out);
  }
}

// x = n pi/2 + r, |r| <= pi/4, by two FMAs with pi/2 in two doubles (exact enough for |x| <= 2^20:
// the error is below 2^-60 |r|), then sin r to r^9 and cos r to r^10 (errors below 2^-28 and 2^-32
// relative, under 0.05 ulp of float). x = -0 gives r = +0: sin and tan put x back for zeros.
struct ReducedPi2 {
  __m512d nq, sinr, cosr;
};
EMBER_ATTR_AVX512 EMBER_VM_INLINE ReducedPi2 reduce_pi2_pd(__m512d x) {
  const __m512d nq = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(0.63661977236758134308)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(nq, _mm512_set1_pd(1.5707963267948966), x);
  r = _mm512_fnmadd_pd(nq, _mm512_set1_pd(6.123233995736766e-17), r);
  const __m512d r2 = _mm512_mul_pd(r, r);
  __m512d sp = _mm512_set1_pd(2.7557319223985893e-06);  // 1/9!
  sp = _mm512_fmadd_pd(sp, r2, _mm512_set1_pd(-1.984126984126984e-04));
  sp = _mm512_fmadd_pd(sp, r2, _mm512_set1_pd(8.333333333333333e-03));
  sp = _mm512_fmadd_pd(sp, r2, _mm512_set1_pd(-1.6666666666666666e-01));
  __m512d cp = _mm512_set1_pd(-2.755731922398589e-07);  // -1/10!
  cp = _mm512_fmadd_pd(cp, r2, _mm512_set1_pd(2.48015873015873e-05));
  cp = _mm512_fmadd_pd(cp, r2, _mm512_set1_pd(-1.388888888888889e-03));
  cp = _mm512_fmadd_pd(cp, r2, _mm512_set1_pd(4.1666666666666664e-02));
  cp = _mm512_fmadd_pd(cp, r2, _mm512_set1_pd(-0.5));
  return {nq, _mm512_fmadd_pd(_mm512_mul_pd(sp, r2), r, r),  // r + r^3 P: keeps -0
          _mm512_fmadd_pd(cp, r2, _mm512_set1_pd(1.0))};
}

// |x| <= 2^20: the range reduce_pi2_pd covers (sin, cos, tan)
EMBER_ATTR_AVX512 EMBER_VM_INLINE __mmask16 within_2p20(__m512 x) {
  return _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(1048576.0f), _CMP_LE_OQ);
}
EMBER_ATTR_AVX512 EMBER_VM_INLINE __mmask16 finite_ps(__m512 x) {
  return _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(std::numeric_limits<float>::infinity()), _CMP_LT_OQ);
}
// |v| with the sign of s (v's own sign bit clear or not: it is replaced)
EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512d copysign_pd(__m512d v, __m512d s) {
  const __m512d sign = _mm512_set1_pd(-0.0);
  return _mm512_or_pd(_mm512_andnot_pd(sign, v), _mm512_and_pd(sign, s));
}

// sin and cos: the quadrant q = n mod 4 (n + 1 for cos) picks sin r, cos r, -sin r, -cos r for
// q = 0..3. |x| > 2^20 and non-finite x: libm.
template <bool kCos>
struct SinCosHalf {
  EMBER_ATTR_AVX512 __mmask16 ok(__m512 x) const { return within_2p20(x); }
  EMBER_ATTR_AVX512 __m512d operator()(__m512d x) const {
    const ReducedPi2 rd = reduce_pi2_pd(x);
    const __m256i q = _mm256_add_epi32(_mm512_cvtpd_epi32(rd.nq), _mm256_set1_epi32(kCos ? 1 : 0));
    const __mmask8 odd = _mm256_test_epi32_mask(q, _mm256_set1_epi32(1));
    const __mmask8 neg = _mm256_test_epi32_mask(q, _mm256_set1_epi32(2));
    const __m512d v = _mm512_mask_mov_pd(rd.sinr, odd, rd.cosr);
    const __m512d res = _mm512_mask_sub_pd(v, neg, _mm512_setzero_pd(), v);
    if (kCos) return res;
    return _mm512_mask_mov_pd(res, _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_EQ_OQ), x);  // sin(-0) = -0
  }
};

// tan: sin r / cos r for even n, -cos r / sin r for odd n (one division; r is never 0 for odd n).
// |x| > 2^20 and non-finite x: libm.
struct TanHalf {
  EMBER_ATTR_AVX512 __mmask16 ok(__m512 x) const { return within_2p20(x); }
  EMBER_ATTR_AVX512 __m512d operator()(__m512d x) const {
    const ReducedPi2 rd = reduce_pi2_pd(x);
    const __mmask8 odd = _mm256_test_epi32_mask(_mm512_cvtpd_epi32(rd.nq), _mm256_set1_epi32(1));
    const __m512d num = _mm512_mask_sub_pd(rd.sinr, odd, _mm512_setzero_pd(), rd.cosr);
    const __m512d res = _mm512_div_pd(num, _mm512_mask_mov_pd(rd.cosr, odd, rd.sinr));
    return _mm512_mask_mov_pd(res, _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_EQ_OQ), x);  // tan(-0) = -0
  }
};

// exp2: exp2_pd, then overflow to inf and subnormal results come out of the one rounding to float.
// Non-finite x: libm.
struct Exp2Half {
  EMBER_ATTR_AVX512 __mmask16 ok(__m512 x) const { return finite_ps(x); }
  EMBER_ATTR_AVX512 __m512d operator()(__m512d x) const { return exp2_pd(x); }
};

// natural log of positive, normal, finite doubles: ln v = (k + log2 c + log2(1 + r)) ln 2 with
// v = 2^k z and r = z / c - 1 over pow's 16 intervals (kLog2InvC). Relative error below 2^-42,
// except near v = 1, where the absolute error is about 2^-62 (ln 1 comes out as ~1e-19, not 0).
EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512d log_pd(__m512d v) {
  const __m512i iv = _mm512_castpd_si512(v);
  const __m512i tmp = _mm512_sub_epi64(iv, _mm512_set1_epi64(0x3fe6600000000000));
  const __m512i idx = _mm512_srli_epi64(tmp, 48);  // the permutes read its low 4 bits: z's top 4
  const __m512i top = _mm512_and_si512(tmp, _mm512_set1_epi64(static_cast<int64_t>(0xfff0000000000000ull)));
  const __m512d z = _mm512_castsi512_pd(_mm512_sub_epi64(iv, top));
  const __m512d k = _mm512_cvtepi64_pd(_mm512_srai_epi64(tmp, 52));
  const __m512d invc = _mm512_permutex2var_pd(_mm512_load_pd(kLog2InvC), idx, _mm512_load_pd(kLog2InvC + 8));
  const __m512d logc = _mm512_permutex2var_pd(_mm512_load_pd(kLog2C), idx, _mm512_load_pd(kLog2C + 8));
  const __m512d r = _mm512_fmsub_pd(z, invc, _mm512_set1_pd(1.0));
  return _mm512_mul_pd(_mm512_add_pd(_mm512_add_pd(k, logc), log2_1p_pd(r)), _mm512_set1_pd(kLn2));
}

constexpr double kPi = 3.14159265358979323846;

// atan of any double (infinities and NaN included), one division for every lane: a = |t| is
// reduced to |u| <= tan(pi/8) by atan a = pi/4 + atan((a - 1) / (a + 1)) for a in (tan(pi/8),
// tan(3pi/8)] and pi/2 + atan(-1 / a) above, then atan u = u + u s P(s), s = u^2, P a degree-6 fit
// (relative error below 2^-38), and t's sign. atan(+-inf) = +-pi/2, atan(-0) = -0.
EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512d atan_pd(__m512d t) {
  const __m512d one = _mm512_set1_pd(1.0);
  const __m512d a = _mm512_abs_pd(t);
  const __mmask8 mid = _mm512_cmp_pd_mask(a, _mm512_set1_pd(0.41421356237309503), _CMP_GT_OQ);
  const __mmask8 big = _mm512_cmp_pd_mask(a, _mm512_set1_pd(2.414213562373095), _CMP_GT_OQ);
  __m512d num = _mm512_mask_sub_pd(a, mid, a, one);
  num = _mm512_mask_mov_pd(num, big, _mm512_set1_pd(-1.0));
  __m512d den = _mm512_mask_add_pd(one, mid, a, one);
  den = _mm512_mask_mov_pd(den, big, a);
  __m512d base = _mm512_maskz_mov_pd(mid, _mm512_set1_pd(kPi / 4));
  base = _mm512_mask_mov_pd(base, big, _mm512_set1_pd(kPi / 2));
  const __m512d u = _mm512_div_pd(num, den);
  const __m512d s = _mm512_mul_pd(u, u);
  __m512d p = _mm512_set1_pd(-0.04050482878587278);
  p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(0.0713916484429595));
  p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(-0.09029753282831361));
  p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(0.11107567572135174));
  p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(-0.14285615706314095));
  p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(0.19999998973800978));
  p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(-0.33333333331687137));
  // base + atan u >= 0 in every region (>= pi/8 in the reduced ones)
  return copysign_pd(_mm512_add_pd(base, _mm512_fmadd_pd(_mm512_mul_pd(u, s), p, u)), t);
}

struct AtanHalf {
  EMBER_ATTR_AVX512 __mmask16 ok(__m512) const { return 0xffff; }
  EMBER_ATTR_AVX512 __m512d operator()(__m512d x) const { return atan_pd(x); }
};

// asin and acos of |x| <= 1: with a = |x|, asin w = w + w z Q(z), z = w^2, Q a degree-7 fit on
// w <= 1/2 (relative error below 2^-38), for w = a when a <= 1/2; above, w = sqrt((1 - a) / 2)
// (1 - a exact) and asin a = pi/2 - 2 asin w, acos a = 2 asin w, acos(-a) = pi - 2 asin w. For
// a <= 1/2, acos x = pi/2 - asin x. |x| > 1 and NaN: libm.
template <bool kAcos>
struct AsinHalf {
  EMBER_ATTR_AVX512 __mmask16 ok(__m512 x) const {
    return _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(1.0f), _CMP_LE_OQ);
  }
  EMBER_ATTR_AVX512 __m512d operator()(__m512d x) const {
    const __m512d a = _mm512_abs_pd(x);
    const __mmask8 big = _mm512_cmp_pd_mask(a, _mm512_set1_pd(0.5), _CMP_GT_OQ);
    const __m512d z = _mm512_mask_mul_pd(_mm512_mul_pd(a, a), big, _mm512_sub_pd(_mm512_set1_pd(1.0), a),
                                         _mm512_set1_pd(0.5));
    const __m512d w = _mm512_mask_sqrt_pd(a, big, z);
    __m512d q = _mm512_set1_pd(0.02945608260321096);
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(0.005309035285576205));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(0.019353416915746848));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(0.02212414148929668));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(0.030398398013021168));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(0.04464232375984377));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(0.07500000663967747));
    q = _mm512_fmadd_pd(q, z, _mm512_set1_pd(0.16666666665186508));
    const __m512d asin_w = _mm512_fmadd_pd(_mm512_mul_pd(w, z), q, w);
    const __m512d two_w = _mm512_add_pd(asin_w, asin_w);
    if (!kAcos) {
      const __m512d asin_a = _mm512_mask_sub_pd(asin_w, big, _mm512_set1_pd(kPi / 2), two_w);
      return copysign_pd(asin_a, x);  // asin(-0) = -0
    }
    const __mmask8 neg = _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_LT_OQ);
    __m512d res = _mm512_sub_pd(_mm512_set1_pd(kPi / 2), copysign_pd(asin_w, x));
    res = _mm512_mask_mov_pd(res, big, two_w);
    return _mm512_mask_sub_pd(res, big & neg, _mm512_set1_pd(kPi), two_w);
  }
};

// sinh and cosh from E = e^|x| (exp2_pd of |x| log2 e: relative error below 2^-45 for |x| < 90,
// and inf beyond the double range): cosh = E/2 + 1/(2E); sinh = E/2 - 1/(2E) for |x| >= 1, the
// series to x^13 below (error below 2^-40), with x's sign. Non-finite x: libm.
template <bool kCosh>
struct SinhCoshHalf {
  EMBER_ATTR_AVX512 __mmask16 ok(__m512 x) const { return finite_ps(x); }
  EMBER_ATTR_AVX512 __m512d operator()(__m512d x) const {
    const __m512d a = _mm512_abs_pd(x);
    const __m512d half_e = _mm512_mul_pd(exp2_pd(_mm512_mul_pd(a, _mm512_set1_pd(1.4426950408889634074))),
                                         _mm512_set1_pd(0.5));
    const __m512d half_inv = _mm512_div_pd(_mm512_set1_pd(0.25), half_e);
    if (kCosh) return _mm512_add_pd(half_e, half_inv);
    const __m512d s = _mm512_mul_pd(a, a);
    __m512d p = _mm512_set1_pd(1.0 / 6227020800.0);  // 1/13!
    p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(1.0 / 39916800.0));
    p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(1.0 / 362880.0));
    p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(1.0 / 5040.0));
    p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(1.0 / 120.0));
    p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(1.0 / 6.0));
    const __m512d small = _mm512_fmadd_pd(_mm512_mul_pd(a, s), p, a);
    const __mmask8 big = _mm512_cmp_pd_mask(a, _mm512_set1_pd(1.0), _CMP_GE_OQ);
    return copysign_pd(_mm512_mask_sub_pd(small, big, half_e, half_inv), x);  // sinh(-0) = -0
  }
};

// asinh |x| = log(|x| + sqrt(x^2 + 1)), acosh x = log(x + sqrt(x^2 - 1)) (x^2 - 1 exact for the
// float x near 1), atanh |x| = log((1 + |x|) / (1 - |x|)) / 2, by log_pd. Below |x| = 2^-10,
// where log_pd's absolute error near 1 would show (and 1 + ... rounds), asinh and atanh take their
// series to x^7 (error below 2^-80). acosh(1) = 0 exactly. asinh: non-finite x, acosh: x < 1 or
// non-finite, atanh: |x| >= 1 or NaN: libm.
enum class InvHyp { Asinh, Acosh, Atanh };
template <InvHyp kF>
struct InvHypHalf {
  EMBER_ATTR_AVX512 __mmask16 ok(__m512 x) const {
    if (kF == InvHyp::Asinh) return finite_ps(x);
    if (kF == InvHyp::Acosh) return _mm512_cmp_ps_mask(x, _mm512_set1_ps(1.0f), _CMP_GE_OQ) & finite_ps(x);
    return _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(1.0f), _CMP_LT_OQ);
  }
  EMBER_ATTR_AVX512 __m512d operator()(__m512d x) const {
    const __m512d one = _mm512_set1_pd(1.0);
    if (kF == InvHyp::Acosh) {
      const __m512d v = _mm512_add_pd(x, _mm512_sqrt_pd(_mm512_fmsub_pd(x, x, one)));
      return _mm512_mask_mov_pd(log_pd(v), _mm512_cmp_pd_mask(x, one, _CMP_EQ_OQ), _mm512_setzero_pd());
    }
    const __m512d a = _mm512_abs_pd(x);
    const __m512d s = _mm512_mul_pd(a, a);
    __m512d big, p;
    if (kF == InvHyp::Asinh) {
      big = log_pd(_mm512_add_pd(a, _mm512_sqrt_pd(_mm512_add_pd(s, one))));
      p = _mm512_set1_pd(-5.0 / 112);  // asinh a = a (1 - s/6 + 3 s^2/40 - 5 s^3/112)
      p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(3.0 / 40));
      p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(-1.0 / 6));
    } else {
      big = _mm512_mul_pd(log_pd(_mm512_div_pd(_mm512_add_pd(one, a), _mm512_sub_pd(one, a))), _mm512_set1_pd(0.5));
      p = _mm512_set1_pd(1.0 / 7);  // atanh a = a (1 + s/3 + s^2/5 + s^3/7)
      p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(1.0 / 5));
      p = _mm512_fmadd_pd(p, s, _mm512_set1_pd(1.0 / 3));
    }
    const __m512d small = _mm512_fmadd_pd(_mm512_mul_pd(a, s), p, a);
    const __mmask8 tiny = _mm512_cmp_pd_mask(a, _mm512_set1_pd(0.0009765625), _CMP_LT_OQ);
    return copysign_pd(_mm512_mask_mov_pd(big, tiny, small), x);  // keeps -0
  }
};

// libm's float function behind an fn:: functor, as a plain function: the double kernels' exact
// path for the lanes outside their fast path, and the whole op on other ISAs
template <class F>
float libm_f32(float x) {
  return F{}(x);
}
// the AVX-512 kernel of each (contiguous runs)
template <class Half, float (*Slow)(float)>
EMBER_ATTR_AVX512 void via_double_kernel(float* o, const float* a, int64_t n) {
  f32_via_double_avx512<Half, Slow>(o, a, n, Half{});
}

// atan2(y, x) for float32 on AVX-512, in double: atan_pd(y / x) (the quotient of two floats is
// exact to 2^-53 and never overflows a double), plus pi with y's sign where x < 0. Lanes with x
// zero or either operand non-finite take libm's atan2f (their IEEE special cases). ys, xs: 1 for
// a vector operand, 0 for a scalar broadcast to every lane.
EMBER_ATTR_AVX512 void atan2_f32_avx512(float* o, const float* y, int64_t ys, const float* x, int64_t xs,
                                        int64_t n) {
  const __m512 yb = _mm512_set1_ps(ys ? 0.0f : y[0]), xb = _mm512_set1_ps(xs ? 0.0f : x[0]);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    const __m512 yv = ys ? _mm512_maskz_loadu_ps(m, y + i) : yb;
    const __m512 xv = xs ? _mm512_maskz_loadu_ps(m, x + i) : xb;
    const __mmask16 ok =
        finite_ps(yv) & finite_ps(xv) & _mm512_cmp_ps_mask(xv, _mm512_setzero_ps(), _CMP_NEQ_OQ);
    __m256 res[2];
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m512d yd = _mm512_cvtps_pd(h ? _mm512_extractf32x8_ps(yv, 1) : _mm512_castps512_ps256(yv));
      const __m512d xd = _mm512_cvtps_pd(h ? _mm512_extractf32x8_ps(xv, 1) : _mm512_castps512_ps256(xv));
      const __m512d t = atan_pd(_mm512_div_pd(yd, xd));
      const __mmask8 neg = _mm512_cmp_pd_mask(xd, _mm512_setzero_pd(), _CMP_LT_OQ);
      res[h] = _mm512_cvtpd_ps(_mm512_mask_add_pd(t, neg, t, copysign_pd(_mm512_set1_pd(kPi), yd)));
    }
    __m512 out = _mm512_insertf32x8(_mm512_castps256_ps512(res[0]), res[1], 1);
    out = redo_lanes(out, static_cast<__mmask16>(m & ~ok),
                     [&](int l) { return std::atan2(ys ? y[i + l] : y[0], xs ? x[i + l] : x[0]); });
    _mm512_mask_storeu_ps(o + i, m, out);
  }
}

// A float32 binary run through K (pow_f32_avx512, atan2_f32_avx512: output, first operand and its
// vector flag, second operand and its flag, n) on an AVX-512 CPU, whatever the strides (other
// runs through loops.h's buffers); false elsewhere (the caller's generic loop then runs).
template <void (*K)(float*, const float*, int64_t, const float*, int64_t, int64_t)>
bool binary_run_f32(char** p, const int64_t* s, int64_t n) {
  if (cpu_isa() != Isa::Avx512) return false;
  const bool va = s[1] == sizeof(float), vb = s[2] == sizeof(float);
  if ((s[0] == sizeof(float) || n == 1) && (va || s[1] == 0) && (vb || s[2] == 0)) {  // (a lone element's strides may be 0)
    K(reinterpret_cast<float*>(p[0]), reinterpret_cast<const float*>(p[1]), va, reinterpret_cast<const float*>(p[2]), vb, n);
    return true;
  }
  alignas(64) float a[kLoopBuf], b[kLoopBuf], o[kLoopBuf];
  for (int64_t i = 0; i < n; i += kLoopBuf) {
    const int64_t m = std::min(kLoopBuf, n - i);
    gather_run(a, p[1] + i * s[1], s[1], m);
    gather_run(b, p[2] + i * s[2], s[2], m);
    K(o, a, 1, b, 1, m);
    scatter_run(p[0] + i * s[0], s[0], o, m);
  }
  return true;
}
bool pow_run_f32(char** p, const int64_t* s, int64_t n) { return binary_run_f32<pow_f32_avx512>(p, s, n); }
bool atan2_run_f32(char** p, const int64_t* s, int64_t n) { return binary_run_f32<atan2_f32_avx512>(p, s, n); }
bool gelu_backward_run_f32(char** p, const int64_t* s, int64_t n) {
  return binary_run_f32<gelu_backward_f32_avx512>(p, s, n);
}

// x ** e (base 0) or b ** x (base 1) for a float32 unary run: as pow_run_f32 with the scalar.
bool pow_scalar_run_f32(char** p, const int64_t* s, int64_t n, float c, bool scalar_base) {
  if (cpu_isa() != Isa::Avx512) return false;
  char* q[3] = {p[0], scalar_base ? reinterpret_cast<char*>(&c) : p[1], scalar_base ? p[1] : reinterpret_cast<char*>(&c)};
  const int64_t qs[3] = {s[0], scalar_base ? 0 : s[1], scalar_base ? s[1] : 0};
  return pow_run_f32(q, qs, n);
}

// A float32 unary run through an AVX-512 kernel, whatever the strides (loops.h's buffers).
template <void (*Avx512)(float*, const float*, int64_t)>
void unary_run_avx512(char** p, const int64_t* s, int64_t n) {
  if ((s[0] == sizeof(float) && s[1] == sizeof(float)) || n == 1)  // (a lone element's strides may be 0)
    return Avx512(reinterpret_cast<float*>(p[0]), reinterpret_cast<const float*>(p[1]), n);
  alignas(64) float a[kLoopBuf], o[kLoopBuf];
  for (int64_t i = 0; i < n; i += kLoopBuf) {
    const int64_t m = std::min(kLoopBuf, n - i);
    gather_run(a, p[1] + i * s[1], s[1], m);
    Avx512(o, a, m);
    scatter_run(p[0] + i * s[0], s[0], o, m);
  }
}
#else
bool pow_run_f32(char**, const int64_t*, int64_t) { return false; }
bool atan2_run_f32(char**, const int64_t*, int64_t) { return false; }
bool gelu_backward_run_f32(char**, const int64_t*, int64_t) { return false; }
bool pow_scalar_run_f32(char**, const int64_t*, int64_t, float, bool) { return false; }
#endif

// float unary op through an AVX-512 kernel where the CPU has it (every layout), else the portable
// function F
template <float (*F)(float), void (*Avx512)(float*, const float*, int64_t)>
void run_unary_f32(const StridedIter& it) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_isa() == Isa::Avx512) return it.for_each(unary_run_avx512<Avx512>);
#endif
  it.for_each([](char** p, const int64_t* s, int64_t n) { unary_loop<float, float>(p, s, n, VecFn<F>{}); });
}

#if defined(__x86_64__) && defined(__GNUC__)
// a float function computed in double on AVX-512 (f32_via_double_avx512 with Half), libm's Slow
// elsewhere
template <class Half, float (*Slow)(float)>
void run_via_double(const StridedIter& it) {
  run_unary_f32<Slow, via_double_kernel<Half, Slow>>(it);
}
#endif

template <class T, class F>
void run_unary(const StridedIter& it, const F& f) {
  using Out = decltype(f(T{}));
  it.for_each([&f](char** p, const int64_t* s, int64_t n) { unary_loop<Out, T>(p, s, n, f); });
}

// clamp's open sides: no value is below / above these (infinities where the type has them).
template <class T>
T lowest_of() {
  return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
}
template <class T>
T highest_of() {
  return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
}

// exp / expm1 / log1p: the vec_math.h versions for float32 (vectorised), libm's for float64.
template <class T> EMBER_VM_INLINE T ex_(T x) {
  if constexpr (std::is_same_v<T, float>) return exp_f32(x);
  else return std::exp(x);
}
template <class T> EMBER_VM_INLINE T expm1_(T x) {
  if constexpr (std::is_same_v<T, float>) return expm1_f32(x);
  else return std::expm1(x);
}
template <class T> EMBER_VM_INLINE T log1p_(T x) {
  if constexpr (std::is_same_v<T, float>) return log1p_f32(x);
  else return std::log1p(x);
}

// The parametrised activations (UnaryOp::Elu ... LogSigmoid), torch's formulas and roundings.
template <class T> struct EluF {  // elu / selu / celu: negcoef = alpha scale, poscoef = scale
  static constexpr bool kBufferStrided = true;  // (math: loops.h)
  T negcoef, poscoef, negip;
  EMBER_VM_INLINE T operator()(T x) const { return x <= T(0) ? expm1_(x * negip) * negcoef : x * poscoef; }
};
template <class T> EMBER_VM_INLINE T relu6_of_x3(T x) {  // min(max(x + 3, 0), 6), NaN passing
  T a = x + T(3);
  a = a < T(0) ? T(0) : a;
  return a > T(6) ? T(6) : a;
}
template <class T> struct HardsigmoidF {
  EMBER_VM_INLINE T operator()(T x) const { return relu6_of_x3(x) / T(6); }
};
template <class T> struct HardswishF {
  EMBER_VM_INLINE T operator()(T x) const { return x * relu6_of_x3(x) / T(6); }
};
template <class T> struct LogSigmoidF {  // min(x, 0) - log1p(exp(-|x|))
  static constexpr bool kBufferStrided = true;  // (math: loops.h)
  EMBER_VM_INLINE T operator()(T x) const {
    const T m = x < T(0) ? x : T(0);
    return m - log1p_(ex_(-std::fabs(x)));
  }
};

// Their gradients (g, x) -> g f'(x) for unary_backward, torch's *_backward formulas.
template <class T> struct LeakyReluGradF {
  T slope;
  EMBER_VM_INLINE T operator()(T g, T x) const { return x > T(0) ? g : g * slope; }
};
template <class T> struct ClampGradF {  // inclusive bounds (clamp's)
  T lo, hi;
  EMBER_VM_INLINE T operator()(T g, T x) const { return (x >= lo) & (x <= hi) ? g : T(0); }
};
template <class T> struct HardtanhGradF {  // exclusive bounds; NaN x passes g (torch)
  T lo, hi;
  EMBER_VM_INLINE T operator()(T g, T x) const { return (x <= lo) | (x >= hi) ? T(0) : g; }
};
template <class T> struct EluGradF {
  static constexpr bool kBufferStrided = true;  // (math: loops.h)
  T negcoef, poscoef, negip;
  EMBER_VM_INLINE T operator()(T g, T x) const {
    return x <= T(0) ? g * negip * negcoef * ex_(x * negip) : g * poscoef;
  }
};
template <class T> struct HardsigmoidGradF {
  // torch's one_sixth is 1.0f / 6.0f, a float, for double too
  EMBER_VM_INLINE T operator()(T g, T x) const { return (x > T(-3)) & (x < T(3)) ? g * T(1.0f / 6.0f) : T(0); }
};
template <class T> struct HardswishGradF {
  EMBER_VM_INLINE T operator()(T g, T x) const {
    return x <= T(-3) ? T(0) : x < T(3) ? g * (x / T(3) + T(0.5)) : g;
  }
};
template <class T> struct LogSigmoidGradF {  // g (max_deriv - sign z / (1 + z)), z = exp(-|x|)
  static constexpr bool kBufferStrided = true;  // (math: loops.h)
  EMBER_VM_INLINE T operator()(T g, T x) const {
    const T z = ex_(-std::fabs(x));
    const bool neg = x < T(0);
    return g * ((neg ? T(1) : T(0)) - (neg ? T(1) : T(-1)) * (z / (T(1) + z)));
  }
};
template <class T> struct SoftplusGradF {  // torch's: z = exp(x), x > 20 ? g : g z / (z + 1)
  static constexpr bool kBufferStrided = true;  // (math: loops.h)
  EMBER_VM_INLINE T operator()(T g, T x) const {
    const T z = ex_(x);
    return x > T(20) ? g : g * z / (z + T(1));
  }
};
template <class T> struct HuberGradF {  // g clamp(x, -delta, delta)
  T delta;
  EMBER_VM_INLINE T operator()(T g, T x) const {
    T c = x < -delta ? -delta : x;
    c = c > delta ? delta : c;
    return c * g;
  }
};
template <class T> struct SmoothL1GradF {  // g clamp(x, -beta, beta) / beta
  T beta;
  EMBER_VM_INLINE T operator()(T g, T x) const {
    T c = x < -beta ? -beta : x;
    c = c > beta ? beta : c;
    return c * g / beta;
  }
};

template <class T>
void unary_typed(UnaryOp op, const StridedIter& it, const UnaryParams& pr) {
  constexpr bool kFloat = std::is_floating_point_v<T>;
  switch (op) {
    case UnaryOp::Neg: return run_unary<T>(it, fn::Neg{});
    case UnaryOp::Abs: return run_unary<T>(it, fn::Abs{});
    case UnaryOp::Sign: return run_unary<T>(it, fn::Sign{});
    case UnaryOp::Square: return run_unary<T>(it, fn::Square{});
    case UnaryOp::Relu: return run_unary<T>(it, fn::Relu{});
    case UnaryOp::Floor: return run_unary<T>(it, fn::Floor{});
    case UnaryOp::Ceil: return run_unary<T>(it, fn::Ceil{});
    case UnaryOp::Round: return run_unary<T>(it, fn::Round{});
    case UnaryOp::Trunc: return run_unary<T>(it, fn::Trunc{});
    case UnaryOp::Clamp:
      return run_unary<T>(it, fn::Clamp<T>{pr.has_min ? static_cast<T>(pr.p0) : lowest_of<T>(),
                                           pr.has_max ? static_cast<T>(pr.p1) : highest_of<T>()});
    case UnaryOp::PowScalar:
      if constexpr (kFloat) {
        // torch's special exponents (ATen's pow_tensor_scalar kernels): products, sqrt and
        // reciprocals instead of pow, for its roundings (x ** 2 is x * x) and 20x the speed.
        const double e = pr.p0;
        if (e == 2) return run_unary<T>(it, fn::Square{});
        if (e == 3) return run_unary<T>(it, fn::Cube{});
        if (e == -2) return run_unary<T>(it, fn::RecipSquare{});
        if (e == 0.5) return run_unary<T>(it, fn::Sqrt{});
        if (e == -0.5) return run_unary<T>(it, fn::Rsqrt{});
        if (e == -1) return run_unary<T>(it, fn::Reciprocal{});
        if (e == 1) return run_unary<T>(it, fn::Identity{});
      }
      if constexpr (std::is_same_v<T, float>) {
        return it.for_each([e = static_cast<float>(pr.p0)](char** p, const int64_t* s, int64_t n) {
          if (!pow_scalar_run_f32(p, s, n, e, false)) unary_loop<float, float>(p, s, n, fn::PowScalar<float>{e});
        });
      }
      return run_unary<T>(it, fn::PowScalar<T>{static_cast<T>(pr.p0)});
    case UnaryOp::RPowScalar:
      if constexpr (std::is_same_v<T, float>) {
        return it.for_each([b = static_cast<float>(pr.p0)](char** p, const int64_t* s, int64_t n) {
          if (!pow_scalar_run_f32(p, s, n, b, true)) unary_loop<float, float>(p, s, n, fn::RPowScalar<float>{b});
        });
      }
      return run_unary<T>(it, fn::RPowScalar<T>{static_cast<T>(pr.p0)});
    case UnaryOp::LeakyRelu: return run_unary<T>(it, fn::LeakyRelu<T>{static_cast<T>(pr.p0)});
    case UnaryOp::Huber:
      if constexpr (kFloat) return run_unary<T>(it, fn::Huber<T>{static_cast<T>(pr.p0)});
      break;
    case UnaryOp::SmoothL1:
      if constexpr (kFloat) return run_unary<T>(it, fn::SmoothL1<T>{static_cast<T>(pr.p0)});
      break;
    case UnaryOp::Hardtanh: return run_unary<T>(it, fn::Clamp<T>{static_cast<T>(pr.p0), static_cast<T>(pr.p1)});
    case UnaryOp::Elu:
      if constexpr (kFloat)
        return run_unary<T>(it, EluF<T>{static_cast<T>(pr.p0) * static_cast<T>(pr.p1), static_cast<T>(pr.p1),
                                        static_cast<T>(pr.p2)});
      break;
    case UnaryOp::Hardsigmoid:
      if constexpr (kFloat) return run_unary<T>(it, HardsigmoidF<T>{});
      break;
    case UnaryOp::Hardswish:
      if constexpr (kFloat) return run_unary<T>(it, HardswishF<T>{});
      break;
    case UnaryOp::LogSigmoid:
      if constexpr (kFloat) return run_unary<T>(it, LogSigmoidF<T>{});
      break;
    case UnaryOp::LogicalNot: return run_unary<T>(it, fn::LogicalNot{});
    case UnaryOp::IsNan: return run_unary<T>(it, fn::IsNan{});
    case UnaryOp::IsInf: return run_unary<T>(it, fn::IsInf{});
    case UnaryOp::IsPosInf: return run_unary<T>(it, fn::IsPosInf{});
    case UnaryOp::IsNegInf: return run_unary<T>(it, fn::IsNegInf{});
    case UnaryOp::IsFinite: return run_unary<T>(it, fn::IsFinite{});
    default: break;
  }
  if constexpr (std::is_same_v<T, float>) {
    switch (op) {
#if defined(__x86_64__) && defined(__GNUC__)
      case UnaryOp::Exp: return run_unary_f32<exp_f32, exp_f32_avx512>(it);
      case UnaryOp::Log: return run_unary_f32<log_f32, unary_avx512<log_avx512>>(it);
      case UnaryOp::Log2: return run_unary_f32<log2_f32, unary_avx512<log2_avx512>>(it);
      case UnaryOp::Log1p: return run_unary_f32<log1p_f32, unary_avx512<log1p_avx512>>(it);
#else
      case UnaryOp::Exp: return run_unary<T>(it, VecFn<exp_f32>{});
      case UnaryOp::Log: return run_unary<T>(it, VecFn<log_f32>{});
      case UnaryOp::Log2: return run_unary<T>(it, VecFn<log2_f32>{});
      case UnaryOp::Log1p: return run_unary<T>(it, VecFn<log1p_f32>{});
#endif
      case UnaryOp::Expm1: return run_unary<T>(it, VecFn<expm1_f32>{});
#if defined(__x86_64__) && defined(__GNUC__)
      case UnaryOp::Sin: return run_via_double<SinCosHalf<false>, libm_f32<fn::Sin>>(it);
      case UnaryOp::Cos: return run_via_double<SinCosHalf<true>, libm_f32<fn::Cos>>(it);
      case UnaryOp::Tan: return run_via_double<TanHalf, libm_f32<fn::Tan>>(it);
      case UnaryOp::Exp2: return run_via_double<Exp2Half, libm_f32<fn::Exp2>>(it);
      case UnaryOp::Atan: return run_via_double<AtanHalf, libm_f32<fn::Atan>>(it);
      case UnaryOp::Asin: return run_via_double<AsinHalf<false>, libm_f32<fn::Asin>>(it);
      case UnaryOp::Acos: return run_via_double<AsinHalf<true>, libm_f32<fn::Acos>>(it);
      case UnaryOp::Sinh: return run_via_double<SinhCoshHalf<false>, libm_f32<fn::Sinh>>(it);
      case UnaryOp::Cosh: return run_via_double<SinhCoshHalf<true>, libm_f32<fn::Cosh>>(it);
      case UnaryOp::Asinh: return run_via_double<InvHypHalf<InvHyp::Asinh>, libm_f32<fn::Asinh>>(it);
      case UnaryOp::Acosh: return run_via_double<InvHypHalf<InvHyp::Acosh>, libm_f32<fn::Acosh>>(it);
      case UnaryOp::Atanh: return run_via_double<InvHypHalf<InvHyp::Atanh>, libm_f32<fn::Atanh>>(it);
#endif
#if defined(__x86_64__) && defined(__GNUC__)
      case UnaryOp::Tanh: return run_unary_f32<tanh_f32, tanh_f32_avx512>(it);
#else
      case UnaryOp::Tanh: return run_unary<T>(it, VecFn<tanh_f32>{});
#endif
      case UnaryOp::Sigmoid: return run_unary<T>(it, VecFn<sigmoid_f32>{});
      case UnaryOp::Softplus: return run_unary<T>(it, VecFn<softplus_f32>{});
      case UnaryOp::Silu: return run_unary<T>(it, VecFn<silu_f32>{});
      case UnaryOp::GeluTanh: return run_unary<T>(it, VecFn<gelu_tanh_f32>{});
#if defined(__x86_64__) && defined(__GNUC__)
      case UnaryOp::Gelu: return run_unary_f32<gelu_f32, gelu_f32_avx512>(it);
#else
      case UnaryOp::Gelu: return run_unary<T>(it, VecFn<gelu_f32>{});
#endif
      case UnaryOp::Erf: return run_unary<T>(it, VecFn<erf_f32>{});
      default: break;
    }
  }
  if constexpr (kFloat) {
    switch (op) {
      case UnaryOp::Exp: return run_unary<T>(it, fn::Exp{});
      case UnaryOp::Exp2: return run_unary<T>(it, fn::Exp2{});
      case UnaryOp::Expm1: return run_unary<T>(it, fn::Expm1{});
      case UnaryOp::Log: return run_unary<T>(it, fn::Log{});
      case UnaryOp::Log2: return run_unary<T>(it, fn::Log2{});
      case UnaryOp::Log10: return run_unary<T>(it, fn::Log10{});
      case UnaryOp::Log1p: return run_unary<T>(it, fn::Log1p{});
      case UnaryOp::Sqrt: return run_unary<T>(it, fn::Sqrt{});
      case UnaryOp::Rsqrt: return run_unary<T>(it, fn::Rsqrt{});
      case UnaryOp::Sin: return run_unary<T>(it, fn::Sin{});
      case UnaryOp::Cos: return run_unary<T>(it, fn::Cos{});
      case UnaryOp::Tan: return run_unary<T>(it, fn::Tan{});
      case UnaryOp::Asin: return run_unary<T>(it, fn::Asin{});
      case UnaryOp::Acos: return run_unary<T>(it, fn::Acos{});
      case UnaryOp::Atan: return run_unary<T>(it, fn::Atan{});
      case UnaryOp::Sinh: return run_unary<T>(it, fn::Sinh{});
      case UnaryOp::Cosh: return run_unary<T>(it, fn::Cosh{});
      case UnaryOp::Asinh: return run_unary<T>(it, fn::Asinh{});
      case UnaryOp::Acosh: return run_unary<T>(it, fn::Acosh{});
      case UnaryOp::Atanh: return run_unary<T>(it, fn::Atanh{});
      case UnaryOp::Tanh: return run_unary<T>(it, fn::Tanh{});
      case UnaryOp::Sigmoid: return run_unary<T>(it, fn::Sigmoid{});
      case UnaryOp::Reciprocal: return run_unary<T>(it, fn::Reciprocal{});
      case UnaryOp::Erf: return run_unary<T>(it, fn::Erf{});
      case UnaryOp::Softplus: return run_unary<T>(it, fn::Softplus{});
      case UnaryOp::Silu: return run_unary<T>(it, fn::Silu{});
      case UnaryOp::Gelu: return run_unary<T>(it, fn::Gelu{});
      case UnaryOp::GeluTanh: return run_unary<T>(it, fn::GeluTanh{});
      default: break;
    }
  }
  throw TypeError(str("unary op ", static_cast<int>(op), " not implemented for ", dtype_of<T>::value));
}

// One-pass float32 activation gradients (BinaryOp::*Backward): the formulas of UnaryBackward in
// ops/elementwise.cpp, with the vec_math.h functions, for backward passes that build no graph.
struct GeluBackwardF {
  static constexpr bool kBufferStrided = true;  // (math: loops.h)
  EMBER_VM_INLINE float operator()(float g, float x) const {
    const float cdf = (erf_f32(x * 0.70710678118654752f) + 1.0f) * 0.5f;
    const float pdf = vm_detail::exp_nonpos((x * x) * -0.5f) * 0.39894228040143267794f;
    return g * (cdf + x * pdf);
  }
};
// torch's 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2), t = tanh(k (x + c x^3)), in the sigmoid
// form of gelu_tanh_f32: with s = sigmoid(z), z = 2 k (x + c x^3), 0.5 (1 + t) = s and
// 1 - t^2 = 4 s (1 - s), so g (s + x s (1 - s) (2 k) (1 + 3 c x^2)), no cancellation in 1 - t^2.
struct GeluTanhBackwardF {
  static constexpr bool kBufferStrided = true;  // (math: loops.h)
  EMBER_VM_INLINE float operator()(float g, float x) const {
    const float x2 = x * x;
    const float s = sigmoid_f32(x * (1.5957691216057308f + 0.0713548162726009f * x2));
    const float dz = 1.5957691216057308f + 0.2140644488178027f * x2;  // 2 k (1 + 3 c x^2)
    return g * (s + x * (s * (1.0f - s)) * dz);
  }
};
struct SiluBackwardF {
  static constexpr bool kBufferStrided = true;  // (math: loops.h)
  EMBER_VM_INLINE float operator()(float g, float x) const {
    const float s = sigmoid_f32(x);
    return g * (s * (1.0f + x * (1.0f - s)));
  }
};
struct SigmoidBackwardF {
  static constexpr bool kBufferStrided = true;  // (math: loops.h)
  EMBER_VM_INLINE float operator()(float g, float y) const { return g * (y * (1.0f - y)); }
};
struct TanhBackwardF {
  static constexpr bool kBufferStrided = true;  // (math: loops.h)
  EMBER_VM_INLINE float operator()(float g, float y) const { return g * (1.0f - y * y); }
};

// float32 fmod, remainder and floor division without a libm fmod per element (checked_binary_loop
// runs them). fmod(a, b) = a - trunc(a / b) * b in float64 is exact for |a / b| < 2^24: a
// non-integer quotient of two floats lies at least 2^-25 from an integer and float64's quotient
// is within 2^-30 of it, so the truncation is right; q * b is exact (24 + 24 bits), and so is
// a - q * b, which is the float result. Quotients from 2^24 up, b = 0 or inf, and an inf or NaN a
// set `bad` and go to fn::Fmod (libm). Remainder and FloorDiv then follow functors.h bit for bit.
EMBER_VM_INLINE float fmod_f32(float a, float b, int& bad) {
  const double ad = a, bd = b;
  const double q = std::trunc(ad / bd);
  bad = !(std::fabs(q) < 0x1p24) | !(std::fabs(bd) <= double(std::numeric_limits<float>::max()));
  return std::copysign(static_cast<float>(ad - q * bd), a);
}
struct FmodF {
  static float exact(float a, float b) { return fn::Fmod{}(a, b); }
  EMBER_VM_INLINE float operator()(float a, float b, int& bad) const { return fmod_f32(a, b, bad); }
};
struct RemainderF {
  static float exact(float a, float b) { return fn::Remainder{}(a, b); }
  EMBER_VM_INLINE float operator()(float a, float b, int& bad) const {
    const float m = fmod_f32(a, b, bad);
    return m != 0.0f && ((b < 0.0f) != (m < 0.0f)) ? m + b : m;
  }
};
struct FloorDivF {
  static float exact(float a, float b) { return fn::FloorDiv{}(a, b); }
  EMBER_VM_INLINE float operator()(float a, float b, int& bad) const {
    const float mod = fmod_f32(a, b, bad);  // b == 0 is bad: fn::FloorDiv returns a / b
    float div = (a - mod) / b;
    div = mod != 0.0f && ((b < 0.0f) != (mod < 0.0f)) ? div - 1.0f : div;
    float fl = std::floor(div);
    fl = div - fl > 0.5f ? fl + 1.0f : fl;
    return div == 0.0f ? std::copysign(0.0f, a / b) : fl;
  }
};

template <class T, class F>
void run_binary_checked(const StridedIter& it, const F& f) {
  it.for_each([&f](char** p, const int64_t* s, int64_t n) { checked_binary_loop<T, T>(p, s, n, f); });
}

template <class T, class F>
void run_binary(const StridedIter& it, const F& f) {
  using Out = decltype(f(T{}, T{}));
  it.for_each([&f](char** p, const int64_t* s, int64_t n) { binary_loop<Out, T>(p, s, n, f); });
}

// a + alpha * b (bool: a || (alpha && b), as torch's add for bool tensors); wraps for integers.
template <class T>
struct AddScaledF {
  T alpha;
  T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>) return a || (alpha && b);
    else if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      return static_cast<T>(static_cast<U>(a) + static_cast<U>(alpha) * static_cast<U>(b));
    } else {
      return a + alpha * b;
    }
  }
};

template <class T>
void binary_typed(BinaryOp op, const StridedIter& it) {
  switch (op) {
    case BinaryOp::Add: return run_binary<T>(it, fn::Add{});
    case BinaryOp::Sub: return run_binary<T>(it, fn::Sub{});
    case BinaryOp::Mul: return run_binary<T>(it, fn::Mul{});
    case BinaryOp::Div: return run_binary<T>(it, fn::Div{});
    case BinaryOp::FloorDiv:
      if constexpr (std::is_same_v<T, float>) return run_binary_checked<T>(it, FloorDivF{});
      else return run_binary<T>(it, fn::FloorDiv{});
    case BinaryOp::Remainder:
      if constexpr (std::is_same_v<T, float>) return run_binary_checked<T>(it, RemainderF{});
      else return run_binary<T>(it, fn::Remainder{});
    case BinaryOp::Fmod:
      if constexpr (std::is_same_v<T, float>) return run_binary_checked<T>(it, FmodF{});
      else return run_binary<T>(it, fn::Fmod{});
    case BinaryOp::TruncDiv: return run_binary<T>(it, fn::TruncDiv{});
    case BinaryOp::Pow:
      if constexpr (std::is_same_v<T, float>) {
        return it.for_each([](char** p, const int64_t* s, int64_t n) {
          if (!pow_run_f32(p, s, n)) binary_loop<float, float>(p, s, n, fn::Pow{});
        });
      }
      return run_binary<T>(it, fn::Pow{});
    case BinaryOp::Maximum: return run_binary<T>(it, fn::Maximum{});
    case BinaryOp::Minimum: return run_binary<T>(it, fn::Minimum{});
    case BinaryOp::Eq: return run_binary<T>(it, fn::Eq{});
    case BinaryOp::Ne: return run_binary<T>(it, fn::Ne{});
    case BinaryOp::Lt: return run_binary<T>(it, fn::Lt{});
    case BinaryOp::Le: return run_binary<T>(it, fn::Le{});
    case BinaryOp::Gt: return run_binary<T>(it, fn::Gt{});
    case BinaryOp::Ge: return run_binary<T>(it, fn::Ge{});
    case BinaryOp::LogicalAnd: return run_binary<T>(it, fn::LogicalAnd{});
    case BinaryOp::LogicalOr: return run_binary<T>(it, fn::LogicalOr{});
    case BinaryOp::LogicalXor: return run_binary<T>(it, fn::LogicalXor{});
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) {
    if (op == BinaryOp::Atan2) {
      if constexpr (std::is_same_v<T, float>) {
        return it.for_each([](char** p, const int64_t* s, int64_t n) {
          if (!atan2_run_f32(p, s, n)) binary_loop<float, float>(p, s, n, fn::Atan2{});
        });
      }
      return run_binary<T>(it, fn::Atan2{});
    }
    if (op == BinaryOp::ReluBackward) return run_binary<T>(it, fn::ReluBackward{});
    if constexpr (std::is_same_v<T, float>) {
      switch (op) {
        case BinaryOp::GeluBackward:
          return it.for_each([](char** p, const int64_t* s, int64_t n) {
            if (!gelu_backward_run_f32(p, s, n)) binary_loop<float, float>(p, s, n, GeluBackwardF{});
          });
        case BinaryOp::GeluTanhBackward: return run_binary<T>(it, GeluTanhBackwardF{});
        case BinaryOp::SiluBackward: return run_binary<T>(it, SiluBackwardF{});
        case BinaryOp::SigmoidBackward: return run_binary<T>(it, SigmoidBackwardF{});
        case BinaryOp::TanhBackward: return run_binary<T>(it, TanhBackwardF{});
        default: break;
      }
    }
  } else {
    switch (op) {
      case BinaryOp::BitAnd: return run_binary<T>(it, fn::BitAnd{});
      case BinaryOp::BitOr: return run_binary<T>(it, fn::BitOr{});
      case BinaryOp::BitXor: return run_binary<T>(it, fn::BitXor{});
      default: break;
    }
  }
  throw TypeError(str("binary op ", static_cast<int>(op), " not implemented for ", dtype_of<T>::value));
}

}  // namespace

void unary(UnaryOp op, const Tensor& x, const Tensor& out, const UnaryParams& p) {
  StridedIter it(out, {&x});
  dispatch_all(x.dtype(), "unary", [&](auto tag) { unary_typed<decltype(tag)>(op, it, p); });
}

void unary_backward(UnaryOp op, const Tensor& g, const Tensor& x, const Tensor& out, const UnaryParams& p) {
  StridedIter it(out, {&g, &x});
  dispatch_float(out.dtype(), "unary_backward", [&](auto tag) {
    using T = decltype(tag);
    const T p0 = static_cast<T>(p.p0), p1 = static_cast<T>(p.p1);
    switch (op) {
      case UnaryOp::LeakyRelu: return run_binary<T>(it, LeakyReluGradF<T>{p0});
      case UnaryOp::Clamp:
        return run_binary<T>(it, ClampGradF<T>{p.has_min ? p0 : lowest_of<T>(), p.has_max ? p1 : highest_of<T>()});
      case UnaryOp::Hardtanh: return run_binary<T>(it, HardtanhGradF<T>{p0, p1});
      case UnaryOp::Elu:
        return run_binary<T>(it, EluGradF<T>{p0 * p1, p1, static_cast<T>(p.p2)});
      case UnaryOp::Hardsigmoid: return run_binary<T>(it, HardsigmoidGradF<T>{});
      case UnaryOp::Hardswish: return run_binary<T>(it, HardswishGradF<T>{});
      case UnaryOp::LogSigmoid: return run_binary<T>(it, LogSigmoidGradF<T>{});
      case UnaryOp::Softplus: return run_binary<T>(it, SoftplusGradF<T>{});
      case UnaryOp::Huber: return run_binary<T>(it, HuberGradF<T>{p0});
      case UnaryOp::SmoothL1: return run_binary<T>(it, SmoothL1GradF<T>{p0});
      default: break;
    }
    throw TypeError(str("unary_backward: op ", static_cast<int>(op), " has no fused gradient"));
  });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  StridedIter it(out, {&a, &b});
  dispatch_all(a.dtype(), "binary", [&](auto tag) { binary_typed<decltype(tag)>(op, it); });
}

void add_scaled(const Tensor& a, const Tensor& b, Scalar alpha, const Tensor& out) {
  StridedIter it(out, {&a, &b});
  dispatch_all(a.dtype(), "add", [&](auto tag) {
    using T = decltype(tag);
    run_binary<T>(it, AddScaledF<T>{alpha.to<T>()});
  });
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  StridedIter it(out, {&cond, &a, &b});
  dispatch_all(out.dtype(), "where", [&](auto tag) {
    using T = decltype(tag);
    it.for_each([](char** p, const int64_t* s, int64_t n) {
      constexpr int64_t e = sizeof(T);
      if (s[0] == e && s[1] == 1 && (s[2] == e || s[2] == 0) && (s[3] == e || s[3] == 0) &&
          (s[2] == e || s[3] == e)) {
        // contiguous out and condition, a and b contiguous or one of them one value: vectorised
        T* o = reinterpret_cast<T*>(p[0]);
        const uint8_t* c = reinterpret_cast<const uint8_t*>(p[1]);
        const T *a = reinterpret_cast<const T*>(p[2]), *b = reinterpret_cast<const T*>(p[3]);
        if (s[2] == 0) EMBER_ISA_CALL_(T, sel_sv, o, c, *a, b, n);
        else if (s[3] == 0) EMBER_ISA_CALL_(T, sel_vs, o, c, a, *b, n);
        else EMBER_ISA_CALL_(T, sel_vv, o, c, a, b, n);
        return;
      }
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<T*>(p[0] + i * s[0]) = *reinterpret_cast<const bool*>(p[1] + i * s[1])
                                                     ? *reinterpret_cast<const T*>(p[2] + i * s[2])
                                                     : *reinterpret_cast<const T*>(p[3] + i * s[3]);
    });
  });
}

}  // namespace ember::cpu

#pragma GCC diagnostic pop
