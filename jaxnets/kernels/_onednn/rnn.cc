// The LSTM and the GRU over a whole sequence as oneDNN's RNN primitives (the kernels
// behind torch.nn.LSTM and torch.nn.GRU on CPU), forward and backward, called from XLA
// through its FFI.
//
// Layouts are jaxnets' own, so nothing is transposed or copied: xs (N, T, D) and hs
// (N, T, H) (or time-major) are read through strides, the carries (N, H) are oneDNN's
// ldnc with one layer and direction, w_x (D, G*H) and w_h (H, G*H) its ldigo, and the
// bias (4, H) its ldgo. Gates are in oneDNN's order: the LSTM's i, f, g, o (jaxnets'
// own); the GRU's u, r, o with the bias of o's recurrent term last (oneDNN's
// linear-before-reset GRU, which is jaxnets' gru(reset_after=True) with its gates
// reordered by the caller).
//
// Why the batch is split: one multi-threaded primitive shares the cores badly with
// XLA's own thread pool in the same process (measured: 39.5 ms against 25.5 ms alone,
// B=32 T=200 D=128 H=256). The batch is cut into `parts` slices instead, each run by a
// single-threaded primitive on its own thread (29-36 ms), seeing its slice through
// strides, so no input or output is copied.
//
// Why a user scratchpad: with the library's own scratchpad the second call of a cached
// primitive crashed inside oneDNN 2023.2.
#include <algorithm>
#include <cstdint>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <sys/mman.h>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

extern "C" void omp_set_num_threads(int);

namespace {

namespace ffi = xla::ffi;
using dnnl::memory;
using Dims = memory::dims;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;
// Rank-typed buffers (also keeps the commas of the template arguments out of the
// handler macros below).
using Seq = ffi::Buffer<ffi::F32, 3>;
using Mat = ffi::Buffer<ffi::F32, 2>;
using Vec = ffi::Buffer<ffi::F32, 1>;
using Bytes = ffi::Buffer<ffi::U8, 1>;

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

enum class Kind { kInfer, kTrain, kBackward };

// A slice of n rows of a batch of N: T steps of D inputs, H units, run from the last
// step to the first when `reverse`; sequences are (T, N, C), or (N, T, C) when
// `batch_major`; a GRU when `gru`, else an LSTM.
struct Shape {
  int64_t t, batch, n, d, h;
  bool reverse, batch_major, gru;
  int64_t Gates() const { return gru ? 3 : 4; }
  Shape Slice(int64_t rows) const {
    Shape slice = *this;
    slice.n = rows;
    return slice;
  }
  bool operator<(const Shape& o) const {
    return std::tie(t, batch, n, d, h, reverse, batch_major, gru) <
           std::tie(o.t, o.batch, o.n, o.d, o.h, o.reverse, o.batch_major, o.gru);
  }
};

// A slice of a sequence or an (N, C) carry, seen in place through strides.
memory::desc Sequence(const Shape& s, int64_t c) {
  Dims strides = s.batch_major ? Dims{c, s.t * c, 1} : Dims{s.batch * c, c, 1};
  return memory::desc(Dims{s.t, s.n, c}, kF32, strides);
}
// Where the slice starting at row `offset` begins in a sequence of c features.
int64_t SequenceOffset(const Shape& s, int64_t offset, int64_t c) {
  return s.batch_major ? offset * s.t * c : offset * c;
}
dnnl::rnn_direction Direction(const Shape& s) {
  return s.reverse ? dnnl::rnn_direction::unidirectional_right2left
                   : dnnl::rnn_direction::unidirectional_left2right;
}
memory::desc Carry(const Shape& s) {
  return memory::desc(Dims{1, 1, s.n, s.h}, kF32, Dims{s.batch * s.h, s.batch * s.h, s.h, 1});
}
memory::desc Weights(int64_t rows, const Shape& s, Tag tag) {
  return memory::desc(Dims{1, 1, rows, s.Gates(), s.h}, kF32, tag);
}
memory::desc Bias(const Shape& s) { return memory::desc(Dims{1, 1, 4, s.h}, kF32, Tag::ldgo); }

dnnl::primitive_attr UserScratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// The forward primitive descriptor, for a primitive or as the backward's hint.
template <typename Forward>
typename Forward::primitive_desc ForwardDesc(const Shape& s, bool train) {
  auto prop = train ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  auto any_x = Weights(s.d, s, Tag::any), any_h = Weights(s.h, s, Tag::any);
  if constexpr (std::is_same_v<Forward, dnnl::lstm_forward>) {
    return {Engine(), prop,     Direction(s),   Sequence(s, s.d), Carry(s), Carry(s), any_x,
            any_h,    Bias(s),  Sequence(s, s.h), Carry(s),       Carry(s), UserScratchpad()};
  } else {
    return {Engine(), prop,    Direction(s),     Sequence(s, s.d), Carry(s),
            any_x,    any_h,   Bias(s),          Sequence(s, s.h), Carry(s),
            UserScratchpad()};
  }
}

int64_t TrainWorkspaceBytes(const Shape& s) {
  return s.gru ? ForwardDesc<dnnl::lbr_gru_forward>(s, true).workspace_desc().get_size()
               : ForwardDesc<dnnl::lstm_forward>(s, true).workspace_desc().get_size();
}

// A primitive with its scratchpad and the buffers its weights are reordered into.
struct Entry {
  dnnl::primitive primitive;
  memory::desc w_x, w_h, dw_x, dw_h, workspace;
  std::vector<char> scratchpad, w_x_buffer, w_h_buffer, dw_x_buffer, dw_h_buffer;
  std::vector<float> dw_x_user, dw_h_user, db_user;
};

template <typename Desc>
void Describe(Entry* e, const Desc& pd, const Shape& s, bool backward) {
  e->w_x = pd.weights_layer_desc();
  e->w_h = pd.weights_iter_desc();
  e->workspace = pd.workspace_desc();
  e->scratchpad.resize(pd.scratchpad_desc().get_size());
  e->w_x_buffer.resize(e->w_x.get_size());
  e->w_h_buffer.resize(e->w_h.get_size());
  if (!backward) return;
  e->dw_x = pd.diff_weights_layer_desc();
  e->dw_h = pd.diff_weights_iter_desc();
  e->dw_x_buffer.resize(e->dw_x.get_size());
  e->dw_h_buffer.resize(e->dw_h.get_size());
  e->dw_x_user.resize(s.d * s.Gates() * s.h);
  e->dw_h_user.resize(s.h * s.Gates() * s.h);
  e->db_user.resize(4 * s.h);
}

template <typename Forward, typename Backward>
std::unique_ptr<Entry> MakeEntry(Kind kind, const Shape& s) {
  auto e = std::make_unique<Entry>();
  auto forward = ForwardDesc<Forward>(s, kind != Kind::kInfer);
  if (kind != Kind::kBackward) {
    e->primitive = Forward(forward);
    Describe(e.get(), forward, s, false);
    return e;
  }
  auto x = Sequence(s, s.d), y = Sequence(s, s.h), c = Carry(s), b = Bias(s);
  auto any_x = Weights(s.d, s, Tag::any), any_h = Weights(s.h, s, Tag::any);
  auto back = dnnl::prop_kind::backward;
  typename Backward::primitive_desc pd;
  if constexpr (std::is_same_v<Forward, dnnl::lstm_forward>) {
    pd = {Engine(), back, Direction(s), x, c, c, any_x, any_h, b, y, c, c, x, c, c, any_x,
          any_h, b, y, c, c, forward, UserScratchpad()};
  } else {
    pd = {Engine(), back, Direction(s), x, c, any_x, any_h, b, y, c, x, c, any_x, any_h, b,
          y, c, forward, UserScratchpad()};
  }
  e->primitive = Backward(pd);
  Describe(e.get(), pd, s, true);
  return e;
}

// Primitives are built once per shape and kept; calls running at the same time (one
// per JAX device) each take their own entry, since an entry owns its scratch buffers.
class Pool {
 public:
  std::unique_ptr<Entry> Take(Kind kind, const Shape& s) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find({kind, s});
      if (it != free_.end()) {
        auto entry = std::move(it->second);
        free_.erase(it);
        return entry;
      }
    }
    if (s.gru) return MakeEntry<dnnl::lbr_gru_forward, dnnl::lbr_gru_backward>(kind, s);
    return MakeEntry<dnnl::lstm_forward, dnnl::lstm_backward>(kind, s);
  }
  void Give(Kind kind, const Shape& s, std::unique_ptr<Entry> entry) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.emplace(std::make_pair(kind, s), std::move(entry));
  }

 private:
  std::mutex mutex_;
  std::multimap<std::pair<Kind, Shape>, std::unique_ptr<Entry>> free_;
};

Pool& Primitives() {
  static Pool* pool = new Pool();  // never destroyed: calls may outlive static teardown
  return *pool;
}

// The slices: `parts` near-equal runs of the batch (no more than one row each).
std::vector<std::pair<int64_t, int64_t>> Slices(int64_t batch, int64_t parts) {
  parts = std::max<int64_t>(1, std::min(parts, batch));
  std::vector<std::pair<int64_t, int64_t>> slices;
  int64_t offset = 0;
  for (int64_t k = 0; k < parts; ++k) {
    int64_t n = batch / parts + (k < batch % parts ? 1 : 0);
    slices.emplace_back(offset, n);
    offset += n;
  }
  return slices;
}

// A thread kept for running slices: creating one per call costs more than a small
// call's work (its stack and oneDNN's per-thread buffers are touched afresh each time).
class Helper {
 public:
  Helper() {
    std::thread([this] {
      omp_set_num_threads(1);
      std::unique_lock<std::mutex> lock(mutex_);
      for (;;) {
        ready_.wait(lock, [this] { return static_cast<bool>(job_); });
        lock.unlock();
        job_();
        lock.lock();
        job_ = nullptr;
        done_.notify_all();
      }
    }).detach();
  }
  void Start(std::function<void()> job) {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = std::move(job);
    ready_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return !job_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_, done_;
  std::function<void()> job_;
};

// Idle helpers, shared by calls that run at the same time (one per JAX device); never
// destroyed, as calls may outlive static teardown.
class Helpers {
 public:
  Helper* Take() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_.empty()) return new Helper();
    Helper* helper = idle_.back();
    idle_.pop_back();
    return helper;
  }
  void Give(Helper* helper) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(helper);
  }

 private:
  std::mutex mutex_;
  std::vector<Helper*> idle_;
};

Helpers& TheHelpers() {
  static Helpers* helpers = new Helpers();
  return *helpers;
}

// Runs fn(k, offset, n) for every slice (offset, n), slice 0 on the calling thread and
// the others on helpers; oneDNN runs single-threaded on each. The first error wins.
template <typename Fn>
std::string OnSlices(const std::vector<std::pair<int64_t, int64_t>>& slices, Fn fn) {
  std::vector<std::string> errors(slices.size());
  auto run = [&](size_t k) {
    try {
      fn(k, slices[k].first, slices[k].second);
    } catch (const std::exception& error) {
      errors[k] = error.what();
    }
  };
  std::vector<Helper*> helpers;
  for (size_t k = 1; k < slices.size(); ++k) {
    helpers.push_back(TheHelpers().Take());
    helpers.back()->Start([&run, k] { run(k); });
  }
  omp_set_num_threads(1);
  run(0);
  for (Helper* helper : helpers) {
    helper->Wait();
    TheHelpers().Give(helper);
  }
  for (auto& error : errors)
    if (!error.empty()) return error;
  return "";
}

memory Wrap(const memory::desc& md, const void* data) {
  return memory(md, Engine(), const_cast<void*>(data));
}

// The user's weights in the layout the primitive asked for (a copy, made every call:
// the weights change at every train step).
memory Reordered(dnnl::stream& stream, const memory::desc& user, const void* data,
                 const memory::desc& wanted, std::vector<char>& buffer) {
  memory from = Wrap(user, data);
  if (user == wanted) return from;
  memory to = Wrap(wanted, buffer.data());
  dnnl::reorder(from, to).execute(stream, from, to);
  return to;
}

// The training forward's workspace for one slice, in bytes (remembered: building a
// primitive descriptor costs more than a small call).
int64_t WorkspaceBytes(const Shape& s) {
  static std::mutex mutex;
  static auto* sizes = new std::map<Shape, int64_t>();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = sizes->find(s);
  if (it == sizes->end())
    it = sizes->emplace(s, TrainWorkspaceBytes(s)).first;
  return it->second;
}

// Where slice k's workspace starts: the slices' workspaces lie one after the other.
int64_t WorkspaceOffset(const std::vector<std::pair<int64_t, int64_t>>& slices, size_t k,
                        const Shape& whole) {
  int64_t offset = 0;
  for (size_t j = 0; j < k; ++j)
    offset += WorkspaceBytes(whole.Slice(slices[j].second));
  return offset;
}

// The workspace is large (about 60 MB per slice at T=200, N=16, H=256) and, as XLA's
// buffer, usually fresh memory at every call: asking for 2 MB pages turns some 15,000
// page faults into a few dozen. Advice only; ignored where huge pages are off.
void HugePages(void* data, int64_t bytes) {
  constexpr uintptr_t kHuge = 2 << 20;
  auto begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  auto end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

// The arrays of one call. The c's are null for the GRU; the gradients' only backward.
struct Arrays {
  const float *xs, *h0, *c0, *w_x, *w_h, *b;
  float *hs, *h_last, *c_last;
  uint8_t* workspace;
  const float *dhs, *dh_last, *dc_last;
  float *dxs, *dh0, *dc0, *dw_x, *dw_h, *db;
};

Shape Whole(Seq xs, Mat h0, bool reverse, bool batch_major, bool gru) {
  auto dims = xs.dimensions();
  const int64_t batch = h0.dimensions()[0];
  return {batch_major ? dims[1] : dims[0], batch, batch, dims[2], h0.dimensions()[1],
          reverse, batch_major, gru};
}

std::string Name(const Shape& s) { return s.gru ? "GRU" : "LSTM"; }

memory Scratchpad(Entry* e) {
  return memory({{static_cast<int64_t>(e->scratchpad.size())}, memory::data_type::u8, Tag::a},
                Engine(), e->scratchpad.data());
}

// One slice's rows of the call's sequences and carries, in place.
struct Rows {
  const Shape& s;
  int64_t offset;
  memory Seq(const float* data, int64_t c) const {
    return Wrap(Sequence(s, c), data + SequenceOffset(s, offset, c));
  }
  memory Carry(const float* data) const {
    return Wrap(::Carry(s), data + offset * s.h);
  }
};

// The forward's arguments for one slice, which the backward takes too; the weights
// reordered into the entry's buffers.
std::unordered_map<int, memory> ForwardArgs(const Rows& rows, const Arrays& a, Entry* e,
                                            dnnl::stream& stream, uint8_t* workspace) {
  const Shape& s = rows.s;
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC_LAYER, rows.Seq(a.xs, s.d)},
      {DNNL_ARG_SRC_ITER, rows.Carry(a.h0)},
      {DNNL_ARG_WEIGHTS_LAYER,
       Reordered(stream, Weights(s.d, s, Tag::ldigo), a.w_x, e->w_x, e->w_x_buffer)},
      {DNNL_ARG_WEIGHTS_ITER,
       Reordered(stream, Weights(s.h, s, Tag::ldigo), a.w_h, e->w_h, e->w_h_buffer)},
      {DNNL_ARG_BIAS, Wrap(Bias(s), a.b)},
      {DNNL_ARG_DST_LAYER, rows.Seq(a.hs, s.h)},
      {DNNL_ARG_DST_ITER, rows.Carry(a.h_last)},
      {DNNL_ARG_SCRATCHPAD, Scratchpad(e)},
  };
  if (!s.gru) {
    args[DNNL_ARG_SRC_ITER_C] = rows.Carry(a.c0);
    args[DNNL_ARG_DST_ITER_C] = rows.Carry(a.c_last);
  }
  if (workspace) args[DNNL_ARG_WORKSPACE] = Wrap(e->workspace, workspace);
  return args;
}

ffi::Error Forward(const Shape& whole, const Arrays& a, int64_t parts) {
  const Kind kind = a.workspace ? Kind::kTrain : Kind::kInfer;
  auto slices = Slices(whole.batch, parts);
  if (a.workspace) HugePages(a.workspace, WorkspaceOffset(slices, slices.size(), whole));
  std::string error = OnSlices(slices, [&](size_t k, int64_t offset, int64_t n) {
    const Shape s = whole.Slice(n);
    auto e = Primitives().Take(kind, s);
    dnnl::stream stream(Engine());
    uint8_t* workspace = a.workspace ? a.workspace + WorkspaceOffset(slices, k, whole) : nullptr;
    e->primitive.execute(stream, ForwardArgs({s, offset}, a, e.get(), stream, workspace));
    stream.wait();
    Primitives().Give(kind, s, std::move(e));
  });
  if (!error.empty())
    return ffi::Error::Internal("jaxnets oneDNN " + Name(whole) + " forward: " + error);
  return ffi::Error::Success();
}

ffi::Error Backward(const Shape& whole, const Arrays& a, int64_t parts) {
  auto slices = Slices(whole.batch, parts);
  std::vector<std::unique_ptr<Entry>> entries(slices.size());
  std::string error = OnSlices(slices, [&](size_t k, int64_t offset, int64_t n) {
    const Shape s = whole.Slice(n);
    auto e = Primitives().Take(Kind::kBackward, s);
    dnnl::stream stream(Engine());
    const Rows rows{s, offset};
    memory dw_x_any = Wrap(e->dw_x, e->dw_x_buffer.data());
    memory dw_h_any = Wrap(e->dw_h, e->dw_h_buffer.data());
    // oneDNN adds the weight gradients to what these buffers hold.
    std::memset(e->dw_x_buffer.data(), 0, e->dw_x_buffer.size());
    std::memset(e->dw_h_buffer.data(), 0, e->dw_h_buffer.size());
    std::memset(e->db_user.data(), 0, e->db_user.size() * sizeof(float));
    auto args = ForwardArgs(rows, a, e.get(), stream,
                            a.workspace + WorkspaceOffset(slices, k, whole));
    args[DNNL_ARG_DIFF_DST_LAYER] = rows.Seq(a.dhs, s.h);
    args[DNNL_ARG_DIFF_DST_ITER] = rows.Carry(a.dh_last);
    args[DNNL_ARG_DIFF_SRC_LAYER] = rows.Seq(a.dxs, s.d);
    args[DNNL_ARG_DIFF_SRC_ITER] = rows.Carry(a.dh0);
    args[DNNL_ARG_DIFF_WEIGHTS_LAYER] = dw_x_any;
    args[DNNL_ARG_DIFF_WEIGHTS_ITER] = dw_h_any;
    args[DNNL_ARG_DIFF_BIAS] = Wrap(Bias(s), e->db_user.data());
    if (!s.gru) {
      args[DNNL_ARG_DIFF_DST_ITER_C] = rows.Carry(a.dc_last);
      args[DNNL_ARG_DIFF_SRC_ITER_C] = rows.Carry(a.dc0);
    }
    e->primitive.execute(stream, args);
    memory dw_x_user = Wrap(Weights(s.d, s, Tag::ldigo), e->dw_x_user.data());
    memory dw_h_user = Wrap(Weights(s.h, s, Tag::ldigo), e->dw_h_user.data());
    dnnl::reorder(dw_x_any, dw_x_user).execute(stream, dw_x_any, dw_x_user);
    dnnl::reorder(dw_h_any, dw_h_user).execute(stream, dw_h_any, dw_h_user);
    stream.wait();
    entries[k] = std::move(e);
  });
  if (error.empty()) {
    // The weight gradients are the slices' sum, added in slice order.
    auto sum = [&](float* out, std::vector<float> Entry::* field) {
      const size_t size = (entries[0].get()->*field).size();
      std::memcpy(out, (entries[0].get()->*field).data(), size * sizeof(float));
      for (size_t k = 1; k < entries.size(); ++k) {
        const float* part = (entries[k].get()->*field).data();
        for (size_t i = 0; i < size; ++i) out[i] += part[i];
      }
    };
    sum(a.dw_x, &Entry::dw_x_user);
    sum(a.dw_h, &Entry::dw_h_user);
    sum(a.db, &Entry::db_user);
  }
  for (size_t k = 0; k < slices.size(); ++k) {
    if (entries[k]) Primitives().Give(Kind::kBackward, whole.Slice(slices[k].second),
                                      std::move(entries[k]));
  }
  if (!error.empty())
    return ffi::Error::Internal("jaxnets oneDNN " + Name(whole) + " backward: " + error);
  return ffi::Error::Success();
}

using Out3 = ffi::ResultBuffer<ffi::F32, 3>;
using Out2 = ffi::ResultBuffer<ffi::F32, 2>;
using Out1 = ffi::ResultBuffer<ffi::F32, 1>;
using OutBytes = ffi::ResultBuffer<ffi::U8, 1>;

ffi::Error LstmInfer(Seq xs, Mat h0, Mat c0, Mat w_x, Mat w_h, Vec b, Out3 hs, Out2 h_last,
                     Out2 c_last, int64_t parts, bool reverse, bool batch_major) {
  Arrays a{xs.typed_data(), h0.typed_data(), c0.typed_data(), w_x.typed_data(),
           w_h.typed_data(), b.typed_data(), hs->typed_data(), h_last->typed_data(),
           c_last->typed_data()};
  return Forward(Whole(xs, h0, reverse, batch_major, false), a, parts);
}

ffi::Error LstmTrain(Seq xs, Mat h0, Mat c0, Mat w_x, Mat w_h, Vec b, Out3 hs, Out2 h_last,
                     Out2 c_last, OutBytes workspace, int64_t parts, bool reverse,
                     bool batch_major) {
  Arrays a{xs.typed_data(), h0.typed_data(), c0.typed_data(), w_x.typed_data(),
           w_h.typed_data(), b.typed_data(), hs->typed_data(), h_last->typed_data(),
           c_last->typed_data(), workspace->typed_data()};
  return Forward(Whole(xs, h0, reverse, batch_major, false), a, parts);
}

ffi::Error LstmBackward(Seq xs, Mat h0, Mat c0, Mat w_x, Mat w_h, Vec b, Seq hs, Mat h_last,
                        Mat c_last, Bytes workspace, Seq dhs, Mat dh_last, Mat dc_last,
                        Out3 dxs, Out2 dh0, Out2 dc0, Out2 dw_x, Out2 dw_h, Out1 db,
                        int64_t parts, bool reverse, bool batch_major) {
  Arrays a{xs.typed_data(),      h0.typed_data(),      c0.typed_data(),
           w_x.typed_data(),     w_h.typed_data(),     b.typed_data(),
           hs.typed_data(),      h_last.typed_data(),  c_last.typed_data(),
           workspace.typed_data(), dhs.typed_data(),   dh_last.typed_data(),
           dc_last.typed_data(), dxs->typed_data(),    dh0->typed_data(),
           dc0->typed_data(),    dw_x->typed_data(),   dw_h->typed_data(),
           db->typed_data()};
  return Backward(Whole(xs, h0, reverse, batch_major, false), a, parts);
}

ffi::Error GruInfer(Seq xs, Mat h0, Mat w_x, Mat w_h, Vec b, Out3 hs, Out2 h_last,
                    int64_t parts, bool reverse, bool batch_major) {
  Arrays a{xs.typed_data(), h0.typed_data(), nullptr, w_x.typed_data(), w_h.typed_data(),
           b.typed_data(), hs->typed_data(), h_last->typed_data(), nullptr};
  return Forward(Whole(xs, h0, reverse, batch_major, true), a, parts);
}

ffi::Error GruTrain(Seq xs, Mat h0, Mat w_x, Mat w_h, Vec b, Out3 hs, Out2 h_last,
                    OutBytes workspace, int64_t parts, bool reverse, bool batch_major) {
  Arrays a{xs.typed_data(), h0.typed_data(), nullptr, w_x.typed_data(), w_h.typed_data(),
           b.typed_data(), hs->typed_data(), h_last->typed_data(), nullptr,
           workspace->typed_data()};
  return Forward(Whole(xs, h0, reverse, batch_major, true), a, parts);
}

ffi::Error GruBackward(Seq xs, Mat h0, Mat w_x, Mat w_h, Vec b, Seq hs, Mat h_last,
                       Bytes workspace, Seq dhs, Mat dh_last, Out3 dxs, Out2 dh0, Out2 dw_x,
                       Out2 dw_h, Out1 db, int64_t parts, bool reverse, bool batch_major) {
  Arrays a{xs.typed_data(),   h0.typed_data(),        nullptr,          w_x.typed_data(),
           w_h.typed_data(),  b.typed_data(),         hs.typed_data(),  h_last.typed_data(),
           nullptr,           workspace.typed_data(), dhs.typed_data(), dh_last.typed_data(),
           nullptr,           dxs->typed_data(),      dh0->typed_data(), nullptr,
           dw_x->typed_data(), dw_h->typed_data(),    db->typed_data()};
  return Backward(Whole(xs, h0, reverse, batch_major, true), a, parts);
}

}  // namespace

// Attributes shared by every handler.
#define JAXNETS_ATTRS .Attr<int64_t>("parts").Attr<bool>("reverse").Attr<bool>("batch_major")

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxnetsLstmInfer, LstmInfer,
                              ffi::Ffi::Bind()
                                  .Arg<Seq>().Arg<Mat>().Arg<Mat>().Arg<Mat>().Arg<Mat>()
                                  .Arg<Vec>()
                                  .Ret<Seq>().Ret<Mat>().Ret<Mat>() JAXNETS_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxnetsLstmTrain, LstmTrain,
                              ffi::Ffi::Bind()
                                  .Arg<Seq>().Arg<Mat>().Arg<Mat>().Arg<Mat>().Arg<Mat>()
                                  .Arg<Vec>()
                                  .Ret<Seq>().Ret<Mat>().Ret<Mat>().Ret<Bytes>() JAXNETS_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxnetsLstmBackward, LstmBackward,
                              ffi::Ffi::Bind()
                                  .Arg<Seq>().Arg<Mat>().Arg<Mat>().Arg<Mat>().Arg<Mat>()
                                  .Arg<Vec>()
                                  .Arg<Seq>().Arg<Mat>().Arg<Mat>().Arg<Bytes>()
                                  .Arg<Seq>().Arg<Mat>().Arg<Mat>()
                                  .Ret<Seq>().Ret<Mat>().Ret<Mat>().Ret<Mat>().Ret<Mat>()
                                  .Ret<Vec>() JAXNETS_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxnetsGruInfer, GruInfer,
                              ffi::Ffi::Bind()
                                  .Arg<Seq>().Arg<Mat>().Arg<Mat>().Arg<Mat>().Arg<Vec>()
                                  .Ret<Seq>().Ret<Mat>() JAXNETS_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxnetsGruTrain, GruTrain,
                              ffi::Ffi::Bind()
                                  .Arg<Seq>().Arg<Mat>().Arg<Mat>().Arg<Mat>().Arg<Vec>()
                                  .Ret<Seq>().Ret<Mat>().Ret<Bytes>() JAXNETS_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(JaxnetsGruBackward, GruBackward,
                              ffi::Ffi::Bind()
                                  .Arg<Seq>().Arg<Mat>().Arg<Mat>().Arg<Mat>().Arg<Vec>()
                                  .Arg<Seq>().Arg<Mat>().Arg<Bytes>()
                                  .Arg<Seq>().Arg<Mat>()
                                  .Ret<Seq>().Ret<Mat>().Ret<Mat>().Ret<Mat>().Ret<Vec>()
                                  JAXNETS_ATTRS);

// The training forward's workspace in bytes (all slices together), for the caller to
// allocate; -1 when oneDNN has no such RNN for this shape.
extern "C" int64_t jaxnets_rnn_workspace_bytes(int64_t t, int64_t batch, int64_t d, int64_t h,
                                               int64_t parts, bool reverse, bool batch_major,
                                               bool gru) {
  try {
    const Shape whole{t, batch, batch, d, h, reverse, batch_major, gru};
    auto slices = Slices(batch, parts);
    return WorkspaceOffset(slices, slices.size(), whole);
  } catch (const std::exception&) {
    return -1;
  }
}
