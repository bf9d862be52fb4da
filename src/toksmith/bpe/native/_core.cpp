// toksmith native core: pre-tokenizer for the preset regexes, 64-bit pre-token counting, and BPE merges.
//
// Three parts, each small:
//   1. split: hand-written matchers that reproduce Python `regex` findall for the presets (gpt4 / llama3,
//      gpt4-num2, punct, punct-num2, gpt2, o200k, identity). Unicode classes come from a per-code-point flag
//      table built in Python *from the regex module itself* (set_tables), so the two cannot disagree.
//   2. Counter: texts are copied (as UTF-8) into jobs, worker threads split them and count pieces in a
//      thread-local open-addressing table, then add the local table into the global one (64-bit counts).
//      An optional cap prunes the rarest entries (see counts.py for the documented effect).
//   3. train_merges: the standard fast BPE: words as symbol arrays, pair -> (count, word list) index, a max-heap
//      with lazy invalidation. Ties: highest count, then smallest (left bytes, right bytes).
// The GIL is released for all heavy work.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <queue>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace py = pybind11;

namespace {

// ----------------------------------------------------------------------------------------------- tables
enum : uint8_t { F_L = 1, F_N = 2, F_S = 4, F_A = 8, F_B = 16, F_X = 32 };
// F_A: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], F_B: [\p{Ll}\p{Lm}\p{Lo}\p{M}] (o200k), F_X: a code point exists.
std::vector<uint8_t> g_cat;
char g_fold_ascii[128];
std::vector<std::pair<uint32_t, char>> g_fold_extra;  // non-ASCII code points that (?i) folds to s,t,r,...
constexpr uint32_t END = 0xFFFFFFFFu;
constexpr size_t NPOS = SIZE_MAX;

inline uint8_t cat(uint32_t c) { return c < g_cat.size() ? g_cat[c] : 0; }
inline char fold(uint32_t c) {
  if (c < 128) return g_fold_ascii[c];
  for (auto& p : g_fold_extra)
    if (p.first == c) return p.second;
  return 0;
}
inline bool is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }
// [^\s\p{L}\p{N}]
inline bool is_p(uint8_t k) { return (k & F_X) && !(k & (F_L | F_N | F_S)); }
// [^\r\n\p{L}\p{N}]
inline bool is_o(uint32_t c, uint8_t k) { return (k & F_X) && !is_crlf(c) && !(k & (F_L | F_N)); }

inline uint32_t dec(const uint8_t* s, size_t n, size_t i, size_t& len) {
  if (i >= n) {
    len = 0;
    return END;
  }
  uint8_t b = s[i];
  if (b < 0x80) {
    len = 1;
    return b;
  }
  if (b < 0xE0) {
    len = 2;
    return ((b & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
  }
  if (b < 0xF0) {
    len = 3;
    return ((b & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
  }
  len = 4;
  return ((b & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu);
}

inline size_t run_mask(const uint8_t* s, size_t n, size_t j, uint8_t mask) {
  size_t l;
  while (j < n && (cat(dec(s, n, j, l)) & mask)) j += l;
  return j;
}
inline size_t run_p(const uint8_t* s, size_t n, size_t j) {
  size_t l;
  while (j < n && is_p(cat(dec(s, n, j, l)))) j += l;
  return j;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d) at p (ci) or its case-sensitive GPT-2 form; returns the end or 0.
inline size_t contraction(const uint8_t* s, size_t n, size_t p, bool ci) {
  if (p >= n || s[p] != '\'') return 0;
  size_t l1, l2;
  uint32_t c1 = dec(s, n, p + 1, l1);
  char f1 = ci ? fold(c1) : (c1 < 128 ? char(c1) : 0);
  if (f1 == 's' || f1 == 't' || f1 == 'm' || f1 == 'd') return p + 1 + l1;
  if (f1 == 'r' || f1 == 'v' || f1 == 'l') {
    uint32_t c2 = dec(s, n, p + 1 + l1, l2);
    char f2 = ci ? fold(c2) : (c2 < 128 ? char(c2) : 0);
    if ((f1 == 'l' && f2 == 'l') || (f1 != 'l' && f2 == 'e')) return p + 1 + l1 + l2;
  }
  return 0;
}

// The three whitespace branches: \s*[\r\n]+ (if crlf) | \s+(?!\S) | \s+
inline size_t m_ws(const uint8_t* s, size_t n, size_t i, bool crlf) {
  size_t j = i, last_start = i, nl_end = 0, l;
  int cnt = 0;
  while (j < n) {
    uint32_t c = dec(s, n, j, l);
    if (!(cat(c) & F_S)) break;
    if (is_crlf(c)) nl_end = j + l;
    last_start = j;
    j += l;
    cnt++;
  }
  if (cnt == 0) {  // unreachable for the presets (every code point is L, N, \s or the rest)
    dec(s, n, i, l);
    return i + l;
  }
  if (crlf && nl_end) return nl_end;
  if (j == n || cnt == 1) return j;
  return last_start;
}

inline size_t digits(const uint8_t* s, size_t n, size_t j, int maxdig) {
  size_t l;
  for (int d = 0; d < maxdig && j < n; d++) {
    if (!(cat(dec(s, n, j, l)) & F_N)) break;
    j += l;
  }
  return j;
}

// gpt4 / gpt4-num2 (gpt4style) and punct / punct-num2.
size_t m_gpt4(const uint8_t* s, size_t n, size_t i, int maxdig, bool gpt4style) {
  size_t l0, l1;
  uint32_t c0 = dec(s, n, i, l0);
  uint8_t k0 = cat(c0);
  if (gpt4style && c0 == '\'') {
    size_t e = contraction(s, n, i, true);
    if (e) return e;
  }
  if (k0 & F_L) return run_mask(s, n, i, F_L);
  uint32_t c1 = dec(s, n, i + l0, l1);
  uint8_t k1 = cat(c1);
  if ((k1 & F_L) && (gpt4style ? is_o(c0, k0) : c0 == ' ')) return run_mask(s, n, i + l0, F_L);
  if (k0 & F_N) return digits(s, n, i, maxdig);
  size_t j = NPOS;
  if (c0 == ' ' && is_p(k1)) j = i + 1;
  else if (is_p(k0)) j = i;
  if (j != NPOS) {
    j = run_p(s, n, j);
    while (j < n && (s[j] == '\r' || s[j] == '\n')) j++;
    return j;
  }
  return m_ws(s, n, i, true);
}

size_t m_gpt2(const uint8_t* s, size_t n, size_t i) {
  size_t l0, l1;
  uint32_t c0 = dec(s, n, i, l0);
  uint8_t k0 = cat(c0);
  if (c0 == '\'') {
    size_t e = contraction(s, n, i, false);
    if (e) return e;
  }
  uint32_t c1 = dec(s, n, i + l0, l1);
  uint8_t k1 = cat(c1);
  bool sp = c0 == ' ';
  if (k0 & F_L) return run_mask(s, n, i, F_L);
  if (sp && (k1 & F_L)) return run_mask(s, n, i + 1, F_L);
  if (k0 & F_N) return run_mask(s, n, i, F_N);
  if (sp && (k1 & F_N)) return run_mask(s, n, i + 1, F_N);
  if (is_p(k0)) return run_p(s, n, i);
  if (sp && is_p(k1)) return run_p(s, n, i + 1);
  return m_ws(s, n, i, false);
}

// o200k: [A]*[B]+ with backtracking; returns NPOS when it cannot match at p.
inline size_t a_star_b_plus(const uint8_t* s, size_t n, size_t p) {
  size_t j = p, last_b_end = NPOS, l;
  while (j < n) {
    uint8_t k = cat(dec(s, n, j, l));
    if (!(k & F_A)) break;
    if (k & F_B) last_b_end = j + l;
    j += l;
  }
  if (j < n && (cat(dec(s, n, j, l)) & F_B)) return run_mask(s, n, j, F_B);
  return last_b_end;
}
inline size_t suffix_ci(const uint8_t* s, size_t n, size_t r) {
  size_t e = contraction(s, n, r, true);
  return e ? e : r;
}

size_t m_o200k(const uint8_t* s, size_t n, size_t i) {
  size_t l0, l1, r;
  uint32_t c0 = dec(s, n, i, l0);
  uint8_t k0 = cat(c0);
  uint32_t c1 = dec(s, n, i + l0, l1);
  uint8_t k1 = cat(c1);
  bool opt = is_o(c0, k0);
  if (opt && (r = a_star_b_plus(s, n, i + l0)) != NPOS) return suffix_ci(s, n, r);
  if ((r = a_star_b_plus(s, n, i)) != NPOS) return suffix_ci(s, n, r);
  if (opt && (k1 & F_A)) return suffix_ci(s, n, run_mask(s, n, run_mask(s, n, i + l0, F_A), F_B));
  if (k0 & F_A) return suffix_ci(s, n, run_mask(s, n, run_mask(s, n, i, F_A), F_B));
  if (k0 & F_N) return digits(s, n, i, 3);
  size_t j = NPOS;
  if (c0 == ' ' && is_p(k1)) j = i + 1;
  else if (is_p(k0)) j = i;
  if (j != NPOS) {
    j = run_p(s, n, j);
    while (j < n && (s[j] == '\r' || s[j] == '\n' || s[j] == '/')) j++;
    return j;
  }
  return m_ws(s, n, i, true);
}

enum Kind { K_GPT4 = 0, K_GPT4_NUM2, K_PUNCT, K_PUNCT_NUM2, K_GPT2, K_O200K, K_IDENTITY };

template <class F>
inline void split_text(int kind, const uint8_t* s, size_t n, F&& emit) {
  if (kind == K_IDENTITY) {
    if (n) emit(s, n);
    return;
  }
  size_t i = 0;
  while (i < n) {
    size_t e;
    switch (kind) {
      case K_GPT4: e = m_gpt4(s, n, i, 3, true); break;
      case K_GPT4_NUM2: e = m_gpt4(s, n, i, 2, true); break;
      case K_PUNCT: e = m_gpt4(s, n, i, 3, false); break;
      case K_PUNCT_NUM2: e = m_gpt4(s, n, i, 2, false); break;
      case K_GPT2: e = m_gpt2(s, n, i); break;
      default: e = m_o200k(s, n, i); break;
    }
    emit(s + i, e - i);
    i = e;
  }
}

// ----------------------------------------------------------------------------------------------- hash table
inline uint64_t hash_bytes(const uint8_t* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  std::memcpy(&w, p, n);
  h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 29;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 32;
  return h;
}

// Open addressing, linear probing; slots hold entry index + 1 (0 = empty); keys live in one byte arena.
struct Table {
  struct Entry {
    uint64_t off;
    uint64_t count;
    uint32_t len;
    uint32_t hash;
  };
  std::vector<uint32_t> slots;
  std::vector<Entry> entries;
  std::string arena;
  uint64_t mask = 0;

  Table() { reset(1 << 12); }
  void reset(size_t cap) {
    slots.assign(cap, 0);
    mask = cap - 1;
    entries.clear();
    arena.clear();
  }
  size_t size() const { return entries.size(); }
  std::string_view key(const Entry& e) const { return std::string_view(arena.data() + e.off, e.len); }

  void grow() {
    size_t cap = slots.size() * 2;
    slots.assign(cap, 0);
    mask = cap - 1;
    for (uint32_t idx = 0; idx < entries.size(); idx++) {
      uint64_t pos = entries[idx].hash & mask;  // hash holds the low 32 bits; fine while cap <= 2^32
      while (slots[pos]) pos = (pos + 1) & mask;
      slots[pos] = idx + 1;
    }
  }
  inline void add(const uint8_t* p, size_t n, uint64_t c) {
    uint64_t h = hash_bytes(p, n);
    uint32_t h32 = uint32_t(h);
    uint64_t pos = h32 & mask;
    while (uint32_t s = slots[pos]) {
      Entry& e = entries[s - 1];
      if (e.hash == h32 && e.len == n && std::memcmp(arena.data() + e.off, p, n) == 0) {
        e.count += c;
        return;
      }
      pos = (pos + 1) & mask;
    }
    entries.push_back(Entry{arena.size(), c, uint32_t(n), h32});
    arena.append(reinterpret_cast<const char*>(p), n);
    slots[pos] = uint32_t(entries.size());
    if (entries.size() * 2 > slots.size()) grow();
  }
  void add_table(const Table& o) {
    for (auto& e : o.entries) add(reinterpret_cast<const uint8_t*>(o.arena.data() + e.off), e.len, e.count);
  }
  // Keep the `keep` most frequent entries (ties: smaller key); returns (entries dropped, count dropped).
  std::pair<uint64_t, uint64_t> prune(size_t keep) {
    if (entries.size() <= keep) return {0, 0};
    std::vector<uint32_t> order(entries.size());
    for (uint32_t i = 0; i < order.size(); i++) order[i] = i;
    auto better = [&](uint32_t a, uint32_t b) {
      if (entries[a].count != entries[b].count) return entries[a].count > entries[b].count;
      return key(entries[a]) < key(entries[b]);
    };
    std::nth_element(order.begin(), order.begin() + keep, order.end(), better);
    uint64_t dropped_n = order.size() - keep, dropped_c = 0;
    for (size_t i = keep; i < order.size(); i++) dropped_c += entries[order[i]].count;
    order.resize(keep);
    Table t;
    size_t cap = 1 << 12;
    while (cap < keep * 2 + 2) cap <<= 1;
    t.reset(cap);
    for (uint32_t i : order) {
      auto& e = entries[i];
      t.add(reinterpret_cast<const uint8_t*>(arena.data() + e.off), e.len, e.count);
    }
    std::swap(*this, t);
    return {dropped_n, dropped_c};
  }
};

// ----------------------------------------------------------------------------------------------- counter
struct Job {
  std::string buf;
  std::vector<size_t> ends;
};

class Counter {
 public:
  Counter(int kind, int threads, uint64_t max_unique) : kind_(kind), max_unique_(max_unique) {
    if (kind < 0 || kind > K_IDENTITY) throw std::invalid_argument("unknown pattern kind");
    if (kind != K_IDENTITY && g_cat.empty()) throw std::runtime_error("category tables not set");
    // `threads` threads count: the caller (inside feed) and threads - 1 background threads.
    threads = std::max(1, threads);
    for (int t = 1; t < threads; t++) workers_.emplace_back([this] { work(); });
  }
  ~Counter() { stop(); }

  // Copy the UTF-8 of each str (or bytes, counted as one piece per item only for identity) into one job.
  void feed(py::list texts) {
    check_open();
    Job job;
    size_t idx = 0;
    for (py::handle h : texts) {
      Py_ssize_t n;
      const char* p;
      if (PyUnicode_Check(h.ptr())) {
        p = PyUnicode_AsUTF8AndSize(h.ptr(), &n);
        if (!p) {
          PyErr_Clear();
          throw py::value_error("text #" + std::to_string(idx) + " of the batch is not valid Unicode (lone "
                                "surrogates?); clean it, e.g. text.encode('utf-8', 'replace').decode()");
        }
      } else if (PyBytes_Check(h.ptr()) && kind_ == K_IDENTITY) {
        p = PyBytes_AS_STRING(h.ptr());
        n = PyBytes_GET_SIZE(h.ptr());
      } else {
        throw py::type_error("text #" + std::to_string(idx) + " of the batch is a " +
                             std::string(Py_TYPE(h.ptr())->tp_name) + ", not a str");
      }
      job.buf.append(p, size_t(n));
      job.ends.push_back(job.buf.size());
      idx++;
    }
    chars_ += job.buf.size();
    py::gil_scoped_release release;
    {  // hand the job to a background thread if one can take it soon, else count it in this thread
      std::lock_guard<std::mutex> lk(qmu_);
      if (!workers_.empty() && jobs_.size() < workers_.size()) {
        jobs_.push_back(std::move(job));
        has_job_.notify_one();
        return;
      }
    }
    Table local;
    process(job, local);
  }

  // Add already counted entries (blob of concatenated keys, their lengths, their counts).
  void add_counts(py::bytes blob, py::array_t<uint32_t, py::array::c_style | py::array::forcecast> lengths,
                  py::array_t<uint64_t, py::array::c_style | py::array::forcecast> counts) {
    check_open();
    std::string_view b(blob);
    auto L = lengths.unchecked<1>();
    auto C = counts.unchecked<1>();
    if (L.shape(0) != C.shape(0)) throw py::value_error("lengths and counts differ in size");
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> g(gmu_);
    size_t off = 0;
    for (py::ssize_t i = 0; i < L.shape(0); i++) {
      if (off + L(i) > b.size()) throw std::runtime_error("count blob shorter than its lengths");
      global_.add(reinterpret_cast<const uint8_t*>(b.data() + off), L(i), C(i));
      off += L(i);
    }
    maybe_prune();
  }

  // Wait for the workers, then return (blob, lengths, counts, pruned_entries, pruned_count), sorted by key.
  py::tuple finish() {
    {
      py::gil_scoped_release release;
      stop();
    }
    if (error_set_) throw std::runtime_error(error_);
    std::vector<uint32_t> order;
    std::string blob;
    {
      py::gil_scoped_release release;
      if (max_unique_) {
        auto d = global_.prune(max_unique_);
        pruned_n_ += d.first;
        pruned_c_ += d.second;
      }
      order.resize(global_.size());
      for (uint32_t i = 0; i < order.size(); i++) order[i] = i;
      std::sort(order.begin(), order.end(),
                [&](uint32_t a, uint32_t b) { return global_.key(global_.entries[a]) < global_.key(global_.entries[b]); });
      size_t total = 0;
      for (auto& e : global_.entries) total += e.len;
      blob.reserve(total);
      for (uint32_t i : order) blob.append(global_.key(global_.entries[i]));
    }
    py::array_t<uint32_t> lengths(order.size());
    py::array_t<uint64_t> counts(order.size());
    auto L = lengths.mutable_unchecked<1>();
    auto C = counts.mutable_unchecked<1>();
    for (size_t i = 0; i < order.size(); i++) {
      L(i) = global_.entries[order[i]].len;
      C(i) = global_.entries[order[i]].count;
    }
    py::bytes pyblob(blob);
    global_ = Table();
    return py::make_tuple(pyblob, lengths, counts, pruned_n_, pruned_c_);
  }
  uint64_t chars() const { return chars_; }

 private:
  void check_open() {
    if (stopped_) throw py::value_error("this Counter is finished; make a new one");
    if (error_set_) throw std::runtime_error(error_);
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lk(qmu_);
      if (stopped_) return;
      stopped_ = true;
    }
    has_job_.notify_all();
    for (auto& t : workers_) t.join();
  }
  void maybe_prune() {  // caller holds gmu_
    if (max_unique_ && global_.size() > 2 * max_unique_) {
      auto d = global_.prune(max_unique_);
      pruned_n_ += d.first;
      pruned_c_ += d.second;
    }
  }
  // Split and count one job into `local`, then add `local` into the global table.
  void process(const Job& job, Table& local) {
    const uint8_t* s = reinterpret_cast<const uint8_t*>(job.buf.data());
    size_t start = 0;
    for (size_t end : job.ends) {
      split_text(kind_, s + start, end - start, [&](const uint8_t* p, size_t n) { local.add(p, n, 1); });
      start = end;
    }
    std::lock_guard<std::mutex> g(gmu_);
    global_.add_table(local);
    maybe_prune();
  }
  void work() {
    Table local;
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lk(qmu_);
        has_job_.wait(lk, [&] { return !jobs_.empty() || stopped_; });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      try {
        process(job, local);
      } catch (std::exception& e) {
        std::lock_guard<std::mutex> lk(qmu_);
        error_ = e.what();
        error_set_ = true;
      }
      local.reset(local.slots.size() > (1u << 20) ? (1u << 20) : local.slots.size());
    }
  }

  int kind_;
  uint64_t max_unique_;
  uint64_t chars_ = 0, pruned_n_ = 0, pruned_c_ = 0;
  Table global_;
  std::mutex gmu_, qmu_;
  std::condition_variable has_job_;
  std::deque<Job> jobs_;
  std::vector<std::thread> workers_;
  bool stopped_ = false, error_set_ = false;
  std::string error_;
};

// ----------------------------------------------------------------------------------------------- merges
struct U64Map {  // uint64 key (never ~0) -> uint32 value
  std::vector<uint64_t> keys;
  std::vector<uint32_t> vals;
  uint64_t mask;
  size_t n = 0;
  explicit U64Map(size_t cap = 1 << 16) : keys(cap, ~0ull), vals(cap), mask(cap - 1) {}
  static inline uint64_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 33;
    return k;
  }
  inline uint32_t* find(uint64_t k) {
    uint64_t p = mix(k) & mask;
    while (keys[p] != ~0ull) {
      if (keys[p] == k) return &vals[p];
      p = (p + 1) & mask;
    }
    return nullptr;
  }
  // Returns (value slot, inserted).
  inline std::pair<uint32_t*, bool> insert(uint64_t k, uint32_t v) {
    if ((n + 1) * 2 > keys.size()) rehash();
    uint64_t p = mix(k) & mask;
    while (keys[p] != ~0ull) {
      if (keys[p] == k) return {&vals[p], false};
      p = (p + 1) & mask;
    }
    keys[p] = k;
    vals[p] = v;
    n++;
    return {&vals[p], true};
  }
  void rehash() {
    std::vector<uint64_t> ok(keys.size() * 2, ~0ull);
    std::vector<uint32_t> ov(keys.size() * 2);
    std::swap(ok, keys);
    std::swap(ov, vals);
    mask = keys.size() - 1;
    for (size_t i = 0; i < ok.size(); i++)
      if (ok[i] != ~0ull) {
        uint64_t p = mix(ok[i]) & mask;
        while (keys[p] != ~0ull) p = (p + 1) & mask;
        keys[p] = ok[i];
        vals[p] = ov[i];
      }
  }
};

class Merger {
 public:
  // A pair's count only grows in the merge step that creates its left or right symbol, and only falls after,
  // so a pair below min_freq once that step is over can never be merged: it is never put on the heap.
  Merger(std::string_view blob, const uint32_t* lens, const uint64_t* cnts, size_t n, size_t max_len,
         int64_t min_freq)
      : max_len_(max_len), min_freq_(std::max<int64_t>(1, min_freq)) {
    for (int b = 0; b < 256; b++) {
      sym_.push_back(std::string(1, char(b)));
      sym_ids_.emplace(sym_[b], b);
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
      if (off + lens[i] > blob.size()) throw std::runtime_error("count blob shorter than its lengths");
      if (lens[i] >= 2 && cnts[i] > 0) {
        woff_.push_back(syms_.size());
        wlen_.push_back(lens[i]);
        wcnt_.push_back(int64_t(cnts[i]));
        for (uint32_t j = 0; j < lens[i]; j++) syms_.push_back(uint8_t(blob[off + j]));
      }
      off += lens[i];
    }
    // initial pair counts
    for (uint32_t w = 0; w < woff_.size(); w++) {
      const uint32_t* s = &syms_[woff_[w]];
      for (uint32_t j = 0; j + 1 < wlen_[w]; j++) inc(s[j], s[j + 1], w, wcnt_[w]);
    }
    {
      std::vector<HeapItem> items;
      items.reserve(pcount_.size());
      for (uint32_t p = 0; p < pcount_.size(); p++)
        if (pcount_[p] >= min_freq_) items.push_back(HeapItem{pcount_[p], p});
      heap_ = std::priority_queue<HeapItem, std::vector<HeapItem>, Worse>(Worse{this}, std::move(items));
    }
    touched_.clear();
  }

  std::vector<std::string> run(size_t n_merges) {
    const int64_t min_freq = min_freq_;
    std::vector<std::string> out;
    while (out.size() < n_merges && !heap_.empty()) {
      HeapItem top = heap_.top();
      heap_.pop();
      int64_t cur = pcount_[top.pid];
      if (cur != top.count) {
        if (cur >= min_freq) heap_.push(HeapItem{cur, top.pid});
        continue;
      }
      if (cur < min_freq || cur <= 0) break;
      uint32_t a = pa_[top.pid], b = pb_[top.pid];
      std::string nb = sym_[a] + sym_[b];
      uint32_t x;
      auto it = sym_ids_.find(nb);
      if (it != sym_ids_.end()) {
        x = it->second;
      } else {
        x = uint32_t(sym_.size());
        sym_.push_back(nb);
        sym_ids_.emplace(nb, x);
      }
      out.push_back(nb);
      step_++;
      words.clear();
      for (uint32_t n = phead_[top.pid], next; n != NONE; n = next) {
        next = nodes_[n].next;
        words.push_back(nodes_[n].word);
        nodes_[n].next = free_;  // recycle the node
        free_ = n;
      }
      phead_[top.pid] = NONE;
      std::sort(words.begin(), words.end());
      words.erase(std::unique(words.begin(), words.end()), words.end());
      for (uint32_t w : words) merge_word(w, a, b, x);
      pcount_[top.pid] = 0;
      for (uint32_t p : touched_)
        if (pcount_[p] >= min_freq) heap_.push(HeapItem{pcount_[p], p});
      touched_.clear();
    }
    return out;
  }

 private:
  struct HeapItem {
    int64_t count;
    uint32_t pid;
  };
  // true if x ranks below y (priority_queue keeps the "largest" on top).
  bool worse(const HeapItem& x, const HeapItem& y) const {
    if (x.count != y.count) return x.count < y.count;
    const std::string& xa = sym_[pa_[x.pid]];
    const std::string& ya = sym_[pa_[y.pid]];
    int c = xa.compare(ya);
    if (c != 0) return c > 0;
    return sym_[pb_[x.pid]].compare(sym_[pb_[y.pid]]) > 0;
  }
  struct Worse {
    const Merger* m;
    bool operator()(const HeapItem& x, const HeapItem& y) const { return m->worse(x, y); }
  };

  inline void inc(uint32_t a, uint32_t b, uint32_t w, int64_t c) {
    if (sym_[a].size() + sym_[b].size() > max_len_) return;
    uint64_t k = (uint64_t(a) << 32) | b;
    auto r = pairs_.insert(k, uint32_t(pcount_.size()));
    uint32_t p = *r.first;
    if (r.second) {
      pcount_.push_back(0);
      pa_.push_back(a);
      pb_.push_back(b);
      phead_.push_back(NONE);
      stamp_.push_back(UINT32_MAX);
    }
    pcount_[p] += c;
    uint32_t h = phead_[p];
    if (h == NONE || nodes_[h].word != w) {  // a word is appended once per run of increments
      uint32_t n;
      if (free_ != NONE) {
        n = free_;
        free_ = nodes_[n].next;
      } else {
        n = uint32_t(nodes_.size());
        nodes_.emplace_back();
      }
      nodes_[n] = Node{w, h};
      phead_[p] = n;
    }
    if (stamp_[p] != step_) {
      stamp_[p] = step_;
      touched_.push_back(p);
    }
  }
  inline void dec_pair(uint32_t a, uint32_t b, int64_t c) {
    uint32_t* p = pairs_.find((uint64_t(a) << 32) | b);
    if (p) pcount_[*p] -= c;
  }
  void merge_word(uint32_t w, uint32_t a, uint32_t b, uint32_t x) {
    uint32_t* s = &syms_[woff_[w]];
    uint32_t L = wlen_[w], wr = 0, i = 0;
    int64_t c = wcnt_[w];
    while (i < L) {
      if (i + 1 < L && s[i] == a && s[i + 1] == b) {
        if (wr > 0) {
          dec_pair(s[wr - 1], a, c);
          inc(s[wr - 1], x, w, c);
        }
        if (i + 2 < L) {
          dec_pair(b, s[i + 2], c);
          inc(x, s[i + 2], w, c);
        }
        s[wr++] = x;
        i += 2;
      } else {
        s[wr++] = s[i++];
      }
    }
    wlen_[w] = wr;
  }

  size_t max_len_;
  int64_t min_freq_;
  std::vector<std::string> sym_;
  std::unordered_map<std::string, uint32_t> sym_ids_;
  std::vector<uint32_t> syms_, wlen_;
  std::vector<uint64_t> woff_;
  std::vector<int64_t> wcnt_;
  U64Map pairs_;
  std::vector<int64_t> pcount_;
  std::vector<uint32_t> pa_, pb_;
  // pair -> words that (may) contain it: singly linked lists in one node pool (no allocation per pair).
  struct Node {
    uint32_t word, next;
  };
  static constexpr uint32_t NONE = UINT32_MAX;
  std::vector<uint32_t> phead_, words;
  std::vector<Node> nodes_;
  uint32_t free_ = NONE;
  std::vector<uint32_t> touched_, stamp_;
  uint32_t step_ = 0;
  std::priority_queue<HeapItem, std::vector<HeapItem>, Worse> heap_{Worse{this}};
};

// ----------------------------------------------------------------------------------------------- bindings
void set_tables(py::bytes cat_table, py::dict folds) {
  std::string_view t(cat_table);
  g_cat.assign(t.begin(), t.end());
  std::memset(g_fold_ascii, 0, sizeof g_fold_ascii);
  g_fold_extra.clear();
  for (auto kv : folds) {
    uint32_t c = kv.first.cast<uint32_t>();
    std::string v = kv.second.cast<std::string>();
    if (v.size() != 1) throw py::value_error("fold values must be one letter");
    if (c < 128) g_fold_ascii[c] = v[0];
    else g_fold_extra.emplace_back(c, v[0]);
  }
}

py::list split_py(const std::string& text, int kind) {
  if (kind != K_IDENTITY && g_cat.empty()) throw std::runtime_error("category tables not set");
  std::vector<std::pair<size_t, size_t>> spans;
  const uint8_t* s = reinterpret_cast<const uint8_t*>(text.data());
  split_text(kind, s, text.size(), [&](const uint8_t* p, size_t n) { spans.emplace_back(p - s, n); });
  py::list out;
  for (auto& sp : spans) out.append(py::reinterpret_steal<py::object>(
      PyUnicode_DecodeUTF8(text.data() + sp.first, Py_ssize_t(sp.second), "strict")));
  return out;
}

py::list train_merges(py::bytes blob, py::array_t<uint32_t, py::array::c_style | py::array::forcecast> lengths,
                      py::array_t<uint64_t, py::array::c_style | py::array::forcecast> counts, size_t n_merges,
                      size_t max_token_length, int64_t min_frequency) {
  std::string_view b(blob);
  if (lengths.size() != counts.size()) throw py::value_error("lengths and counts differ in size");
  std::vector<std::string> merged;
  {
    py::gil_scoped_release release;
    Merger m(b, lengths.data(), counts.data(), size_t(lengths.size()), max_token_length, min_frequency);
    merged = m.run(n_merges);
  }
  py::list out;
  for (auto& s : merged) out.append(py::bytes(s));
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "toksmith native core: preset pre-tokenizer, 64-bit pre-token counting, BPE merges";
  m.def("set_tables", &set_tables, py::arg("cat_table"), py::arg("folds"));
  m.def("split", &split_py, py::arg("text"), py::arg("kind"));
  m.def("train_merges", &train_merges, py::arg("blob"), py::arg("lengths"), py::arg("counts"), py::arg("n_merges"),
        py::arg("max_token_length"), py::arg("min_frequency"));
  py::class_<Counter>(m, "Counter")
      .def(py::init<int, int, uint64_t>(), py::arg("kind"), py::arg("threads"), py::arg("max_unique") = 0)
      .def("feed", &Counter::feed, py::arg("texts"))
      .def("add_counts", &Counter::add_counts, py::arg("blob"), py::arg("lengths"), py::arg("counts"))
      .def("finish", &Counter::finish)
      .def_property_readonly("chars", &Counter::chars);
  m.attr("KINDS") = py::make_tuple("gpt4", "gpt4-num2", "punct", "punct-num2", "gpt2", "o200k", "identity");
}
