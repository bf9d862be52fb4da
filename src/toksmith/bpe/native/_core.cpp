// toksmith native core: pre-tokenizer for the preset regexes, 64-bit pre-token counting, and BPE merges.
//
// Three parts, each small:
//   1. split: hand-written matchers ("kernels") that reproduce Python `regex` findall for the presets named in
//      KIND_NAMES (the one table that maps a preset name to its kernel; Python reads it as native.KERNELS).
//      Unicode classes come from an immutable Tables object built in Python *from the regex module itself*
//      (make_tables) and passed explicitly to every call, so the two cannot disagree and no global is shared.
//   2. Counter: texts are copied (as UTF-8) into jobs, worker threads split them and count pieces in a
//      thread-local open-addressing table, then add the local table into the global one (64-bit counts).
//      An optional cap prunes the rarest entries (see counts.py for the documented effect).
//   3. train_merges: the standard fast BPE: words as symbol arrays, pair -> (count, word list) index, a max-heap
//      with lazy invalidation. Ties: highest count, then smallest (left bytes, right bytes).
// The boundary: texts must be `str` (bytes are refused with TypeError); every C-API result is checked; UTF-8 is
// decoded with bounds checks; sizes and offsets are 64-bit, and the 32-bit ids (table entries, words, pairs,
// symbols) are checked before they could wrap. The GIL is released for all heavy work.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
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

constexpr uint32_t END = 0xFFFFFFFFu;  // "no code point": past the end of the text
constexpr uint32_t BAD = 0x110000u;    // a malformed byte (never from a str): a code point of no class
constexpr size_t NPOS = SIZE_MAX;
constexpr size_t N_CODE_POINTS = 0x110000;

// A 32-bit id taken from a 64-bit size: refuse instead of wrapping.
inline uint32_t id32(size_t v, const char* what) {
  if (v >= UINT32_MAX) throw std::overflow_error(std::string("too many ") + what + " (more than 2**32 - 2)");
  return uint32_t(v);
}

// ----------------------------------------------------------------------------------------------- tables
enum : uint8_t { F_L = 1, F_N = 2, F_S = 4, F_A = 8, F_B = 16, F_X = 32 };
// F_A: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], F_B: [\p{Ll}\p{Lm}\p{Lo}\p{M}] (o200k), F_X: a code point exists.

// Per-code-point class flags and the (?i) folds of the contraction letters. Built once by make_tables, never
// changed after: workers share it read-only through a shared_ptr<const Tables>.
struct Tables {
  std::vector<uint8_t> cat;
  char fold_ascii[128] = {};
  std::vector<std::pair<uint32_t, char>> fold_extra;  // non-ASCII code points that (?i) folds to s,t,r,...

  uint8_t category(uint32_t c) const { return c < cat.size() ? cat[c] : 0; }
  char fold(uint32_t c) const {
    if (c < 128) return fold_ascii[c];
    for (auto& p : fold_extra)
      if (p.first == c) return p.second;
    return 0;
  }
};
using TablesPtr = std::shared_ptr<const Tables>;

std::shared_ptr<Tables> make_tables(py::bytes cat_table, py::dict folds) {
  auto t = std::make_shared<Tables>();
  std::string_view v(cat_table);
  if (v.size() != N_CODE_POINTS)
    throw py::value_error("cat_table must have one byte per code point (" + std::to_string(N_CODE_POINTS) +
                          "), got " + std::to_string(v.size()));
  t->cat.assign(v.begin(), v.end());
  for (auto kv : folds) {
    int64_t c = kv.first.cast<int64_t>();
    std::string letter = kv.second.cast<std::string>();
    if (c < 0 || c >= int64_t(N_CODE_POINTS)) throw py::value_error("fold key " + std::to_string(c) + " is not a code point");
    if (letter.size() != 1 || uint8_t(letter[0]) >= 128) throw py::value_error("fold values must be one ASCII letter");
    if (c < 128) t->fold_ascii[c] = letter[0];
    else t->fold_extra.emplace_back(uint32_t(c), letter[0]);
  }
  return t;
}

// ----------------------------------------------------------------------------------------------- kinds
enum class Kind { gpt4, gpt4_num2, punct, punct_num2, gpt2, o200k, identity };
struct KindName {
  const char* name;
  Kind kind;
};
// The one table of kernels; each name is the preset of toksmith.pretokenize.PRESETS whose pattern it matches.
constexpr KindName KIND_NAMES[] = {
    {"gpt4", Kind::gpt4},   {"gpt4-num2", Kind::gpt4_num2}, {"punct", Kind::punct},       {"punct-num2", Kind::punct_num2},
    {"gpt2", Kind::gpt2},   {"o200k", Kind::o200k},         {"identity", Kind::identity},
};

Kind parse_kind(const std::string& name) {
  std::string known;
  for (auto& k : KIND_NAMES) {
    if (name == k.name) return k.kind;
    known += (known.empty() ? "" : ", ") + std::string(k.name);
  }
  throw py::value_error("unknown kind '" + name + "'; known kinds: " + known);
}

// ----------------------------------------------------------------------------------------------- split
// One text (UTF-8 bytes) and the class tables; each m_* matcher returns the end of the piece starting at i.
struct Text {
  const uint8_t* s;
  size_t n;
  const Tables* T;  // null only for the identity kernel, which never looks at classes

  uint8_t cat(uint32_t c) const { return T->category(c); }
  char fold(uint32_t c) const { return T->fold(c); }
  static bool is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }
  // [^\s\p{L}\p{N}]
  static bool is_p(uint8_t k) { return (k & F_X) && !(k & (F_L | F_N | F_S)); }
  // [^\r\n\p{L}\p{N}]
  static bool is_o(uint32_t c, uint8_t k) { return (k & F_X) && !is_crlf(c) && !(k & (F_L | F_N)); }

  // The code point at byte i and its length; never reads past n. A malformed or truncated sequence is one BAD
  // byte (str input is always well formed; lone surrogates arrive as their 3-byte surrogatepass form).
  uint32_t dec(size_t i, size_t& len) const {
    if (i >= n) {
      len = 0;
      return END;
    }
    uint8_t b = s[i];
    len = 1;
    if (b < 0x80) return b;
    size_t need;
    uint32_t c;
    if (b >= 0xC2 && b < 0xE0) need = 2, c = b & 0x1Fu;
    else if (b >= 0xE0 && b < 0xF0) need = 3, c = b & 0x0Fu;
    else if (b >= 0xF0 && b < 0xF5) need = 4, c = b & 0x07u;
    else return BAD;
    if (need > n - i) return BAD;
    for (size_t k = 1; k < need; k++) {
      uint8_t cb = s[i + k];
      if ((cb & 0xC0) != 0x80) return BAD;
      c = (c << 6) | (cb & 0x3Fu);
    }
    len = need;
    return c;
  }

  size_t run_mask(size_t j, uint8_t mask) const {
    size_t l;
    while (j < n && (cat(dec(j, l)) & mask)) j += l;
    return j;
  }
  size_t run_p(size_t j) const {
    size_t l;
    while (j < n && is_p(cat(dec(j, l)))) j += l;
    return j;
  }
  // (?i:'s|'t|'re|'ve|'m|'ll|'d) at p (ci) or its case-sensitive GPT-2 form; returns the end or 0.
  size_t contraction(size_t p, bool ci) const {
    if (p >= n || s[p] != '\'') return 0;
    size_t l1, l2;
    uint32_t c1 = dec(p + 1, l1);
    char f1 = ci ? fold(c1) : (c1 < 128 ? char(c1) : 0);
    if (f1 == 's' || f1 == 't' || f1 == 'm' || f1 == 'd') return p + 1 + l1;
    if (f1 == 'r' || f1 == 'v' || f1 == 'l') {
      uint32_t c2 = dec(p + 1 + l1, l2);
      char f2 = ci ? fold(c2) : (c2 < 128 ? char(c2) : 0);
      if ((f1 == 'l' && f2 == 'l') || (f1 != 'l' && f2 == 'e')) return p + 1 + l1 + l2;
    }
    return 0;
  }
  // The three whitespace branches: \s*[\r\n]+ (if crlf) | \s+(?!\S) | \s+
  size_t m_ws(size_t i, bool crlf) const {
    size_t j = i, last_start = i, nl_end = 0, l, cnt = 0;
    while (j < n) {
      uint32_t c = dec(j, l);
      if (!(cat(c) & F_S)) break;
      if (is_crlf(c)) nl_end = j + l;
      last_start = j;
      j += l;
      cnt++;
    }
    if (cnt == 0) {  // unreachable for the presets (every code point is L, N, \s or the rest)
      dec(i, l);
      return i + l;
    }
    if (crlf && nl_end) return nl_end;
    if (j == n || cnt == 1) return j;
    return last_start;
  }
  size_t digits(size_t j, int maxdig) const {
    size_t l;
    for (int d = 0; d < maxdig && j < n; d++) {
      if (!(cat(dec(j, l)) & F_N)) break;
      j += l;
    }
    return j;
  }
  // ` ?[^\s\p{L}\p{N}]+` followed by any run of `tail` bytes ("\r\n", or "\r\n/" for o200k); NPOS if no match.
  size_t punct_run(size_t i, uint32_t c0, uint8_t k0, uint8_t k1, const char* tail) const {
    size_t j = NPOS;
    if (c0 == ' ' && is_p(k1)) j = i + 1;
    else if (is_p(k0)) j = i;
    if (j == NPOS) return NPOS;
    j = run_p(j);
    while (j < n && s[j] && std::strchr(tail, s[j])) j++;
    return j;
  }

  // gpt4 / gpt4-num2 (gpt4style) and punct / punct-num2.
  size_t m_gpt4(size_t i, int maxdig, bool gpt4style) const {
    size_t l0, l1, e;
    uint32_t c0 = dec(i, l0);
    uint8_t k0 = cat(c0);
    if (gpt4style && c0 == '\'' && (e = contraction(i, true))) return e;
    if (k0 & F_L) return run_mask(i, F_L);
    uint32_t c1 = dec(i + l0, l1);
    uint8_t k1 = cat(c1);
    if ((k1 & F_L) && (gpt4style ? is_o(c0, k0) : c0 == ' ')) return run_mask(i + l0, F_L);
    if (k0 & F_N) return digits(i, maxdig);
    if ((e = punct_run(i, c0, k0, k1, "\r\n")) != NPOS) return e;
    return m_ws(i, true);
  }

  size_t m_gpt2(size_t i) const {
    size_t l0, l1, e;
    uint32_t c0 = dec(i, l0);
    uint8_t k0 = cat(c0);
    if (c0 == '\'' && (e = contraction(i, false))) return e;
    uint32_t c1 = dec(i + l0, l1);
    uint8_t k1 = cat(c1);
    bool sp = c0 == ' ';
    if (k0 & F_L) return run_mask(i, F_L);
    if (sp && (k1 & F_L)) return run_mask(i + 1, F_L);
    if (k0 & F_N) return run_mask(i, F_N);
    if (sp && (k1 & F_N)) return run_mask(i + 1, F_N);
    if (is_p(k0)) return run_p(i);
    if (sp && is_p(k1)) return run_p(i + 1);
    return m_ws(i, false);
  }

  // o200k: [A]*[B]+ with backtracking; returns NPOS when it cannot match at p.
  size_t a_star_b_plus(size_t p) const {
    size_t j = p, last_b_end = NPOS, l;
    while (j < n) {
      uint8_t k = cat(dec(j, l));
      if (!(k & F_A)) break;
      if (k & F_B) last_b_end = j + l;
      j += l;
    }
    if (j < n && (cat(dec(j, l)) & F_B)) return run_mask(j, F_B);
    return last_b_end;
  }
  size_t suffix_ci(size_t r) const {
    size_t e = contraction(r, true);
    return e ? e : r;
  }
  size_t m_o200k(size_t i) const {
    size_t l0, l1, r;
    uint32_t c0 = dec(i, l0);
    uint8_t k0 = cat(c0);
    uint32_t c1 = dec(i + l0, l1);
    uint8_t k1 = cat(c1);
    bool opt = is_o(c0, k0);
    if (opt && (r = a_star_b_plus(i + l0)) != NPOS) return suffix_ci(r);
    if ((r = a_star_b_plus(i)) != NPOS) return suffix_ci(r);
    if (opt && (k1 & F_A)) return suffix_ci(run_mask(run_mask(i + l0, F_A), F_B));
    if (k0 & F_A) return suffix_ci(run_mask(run_mask(i, F_A), F_B));
    if (k0 & F_N) return digits(i, 3);
    if ((r = punct_run(i, c0, k0, k1, "\r\n/")) != NPOS) return r;
    return m_ws(i, true);
  }

  size_t next(Kind kind, size_t i) const {
    switch (kind) {
      case Kind::gpt4: return m_gpt4(i, 3, true);
      case Kind::gpt4_num2: return m_gpt4(i, 2, true);
      case Kind::punct: return m_gpt4(i, 3, false);
      case Kind::punct_num2: return m_gpt4(i, 2, false);
      case Kind::gpt2: return m_gpt2(i);
      case Kind::o200k: return m_o200k(i);
      case Kind::identity: return n;
    }
    return n;
  }
};

// Call emit(piece, length) for each piece of s[0:n] under `kind`.
template <class F>
void split_text(Kind kind, const Tables* T, const uint8_t* s, size_t n, F&& emit) {
  Text t{s, n, T};
  for (size_t i = 0; i < n;) {
    size_t e = t.next(kind, i);
    if (e <= i || e > n) throw std::logic_error("split kernel did not advance (a bug in _core.cpp)");
    emit(s + i, e - i);
    i = e;
  }
}

// The UTF-8 bytes of a str (refusing anything else). A str with lone surrogates has no UTF-8: with
// `surrogates_ok` it is encoded with surrogatepass (each surrogate as its 3-byte form, decoded back the same
// way), else it is refused with ValueError. `owner` keeps an encoded copy alive.
struct Utf8 {
  const char* data;
  size_t size;
  bool has_surrogates;
  py::object owner;
};
Utf8 utf8_of(py::handle h, const std::string& what, bool surrogates_ok) {
  if (!PyUnicode_Check(h.ptr()))
    throw py::type_error(what + " is a " + std::string(Py_TYPE(h.ptr())->tp_name) + ", not a str");
  Py_ssize_t n = 0;
  if (const char* p = PyUnicode_AsUTF8AndSize(h.ptr(), &n)) return Utf8{p, size_t(n), false, py::object()};
  if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) throw py::error_already_set();
  PyErr_Clear();
  if (!surrogates_ok)
    throw py::value_error(what + " is not valid Unicode (lone surrogates?); clean it, e.g. "
                          "text.encode('utf-8', 'replace').decode()");
  PyObject* b = PyUnicode_AsEncodedString(h.ptr(), "utf-8", "surrogatepass");
  if (!b) throw py::error_already_set();
  py::object owner = py::reinterpret_steal<py::object>(b);
  return Utf8{PyBytes_AS_STRING(b), size_t(PyBytes_GET_SIZE(b)), true, owner};
}

// ----------------------------------------------------------------------------------------------- hash table
inline uint64_t hash_bytes(const uint8_t* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t(n) * 0xC2B2AE3D27D4EB4Full);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  if (n) std::memcpy(&w, p, n);
  h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 29;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 32;
  return h;
}

// Open addressing, linear probing; slots hold entry index + 1 (0 = empty); keys live in one byte arena.
// Entries are limited to 2**31 (so the 32-bit slots and the 32-bit stored hash address every slot) and a key to
// 2**32 - 1 bytes (the uint32 lengths of the count format); both are checked.
struct Table {
  struct Entry {
    uint64_t off;
    uint64_t count;
    uint32_t len;
    uint32_t hash;
  };
  static constexpr size_t MAX_ENTRIES = size_t(1) << 31;
  std::vector<uint32_t> slots;
  std::vector<Entry> entries;
  std::string arena;
  size_t mask = 0;

  Table() { reset(size_t(1) << 12); }
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
    for (size_t idx = 0; idx < entries.size(); idx++) {
      size_t pos = entries[idx].hash & mask;
      while (slots[pos]) pos = (pos + 1) & mask;
      slots[pos] = uint32_t(idx + 1);
    }
  }
  void add(const uint8_t* p, size_t n, uint64_t c) {
    uint64_t h = hash_bytes(p, n);
    uint32_t h32 = uint32_t(h);
    size_t pos = h32 & mask;
    while (uint32_t s = slots[pos]) {
      Entry& e = entries[s - 1];
      if (e.hash == h32 && e.len == n && (n == 0 || std::memcmp(arena.data() + e.off, p, n) == 0)) {
        e.count += c;
        return;
      }
      pos = (pos + 1) & mask;
    }
    if (n > UINT32_MAX) throw std::length_error("a pre-token is longer than 2**32 - 1 bytes");
    if (entries.size() >= MAX_ENTRIES) throw std::length_error("more than 2**31 distinct pre-tokens; use max_unique");
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
    std::vector<size_t> order(entries.size());
    for (size_t i = 0; i < order.size(); i++) order[i] = i;
    auto better = [&](size_t a, size_t b) {
      if (entries[a].count != entries[b].count) return entries[a].count > entries[b].count;
      return key(entries[a]) < key(entries[b]);
    };
    std::nth_element(order.begin(), order.begin() + ptrdiff_t(keep), order.end(), better);
    uint64_t dropped_n = order.size() - keep, dropped_c = 0;
    for (size_t i = keep; i < order.size(); i++) dropped_c += entries[order[i]].count;
    order.resize(keep);
    Table t;
    size_t cap = size_t(1) << 12;
    while (cap < keep * 2 + 2) cap <<= 1;
    t.reset(cap);
    for (size_t i : order) {
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
  Counter(TablesPtr tables, const std::string& kind, int64_t threads, uint64_t max_unique)
      : tables_(std::move(tables)), kind_(parse_kind(kind)), max_unique_(max_unique) {
    if (kind_ != Kind::identity && !tables_)
      throw py::value_error("kind '" + kind + "' needs the class tables (from make_tables); got None");
    if (threads < 1 || threads > 4096) throw py::value_error("threads must be in 1..4096, got " + std::to_string(threads));
    // `threads` threads count: the caller (inside feed) and threads - 1 background threads.
    for (int64_t t = 1; t < threads; t++) workers_.emplace_back([this] { work(); });
  }
  ~Counter() { stop(); }

  // Copy the UTF-8 of each str of the batch into one job, then count it (here or in a background thread).
  void feed(py::list texts) {
    check_open();
    Job job;
    size_t idx = 0;
    for (py::handle h : texts) {
      Utf8 u = utf8_of(h, "text #" + std::to_string(idx++) + " of the batch", false);
      job.buf.append(u.data, u.size);
      job.ends.push_back(job.buf.size());
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
    uint64_t total = 0;
    for (py::ssize_t i = 0; i < L.shape(0); i++) total += L(i);
    if (total != b.size()) throw py::value_error("the key lengths do not add up to the size of the key blob");
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> g(gmu_);
    size_t off = 0;
    for (py::ssize_t i = 0; i < L.shape(0); i++) {
      global_.add(reinterpret_cast<const uint8_t*>(b.data() + off), L(i), C(i));
      off += L(i);
    }
    maybe_prune();
  }

  // Wait for the workers, then return (blob, lengths, counts, pruned_entries, pruned_count), sorted by key.
  py::tuple finish() {
    if (finished_) throw py::value_error("this Counter is finished; make a new one");
    {
      py::gil_scoped_release release;
      stop();
    }
    finished_ = true;
    rethrow_worker_error();
    std::vector<size_t> order;
    std::string blob;
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> g(gmu_);
      if (max_unique_) {
        auto d = global_.prune(size_t(max_unique_));
        pruned_n_ += d.first;
        pruned_c_ += d.second;
      }
      order.resize(global_.size());
      for (size_t i = 0; i < order.size(); i++) order[i] = i;
      std::sort(order.begin(), order.end(),
                [&](size_t a, size_t b) { return global_.key(global_.entries[a]) < global_.key(global_.entries[b]); });
      blob.reserve(global_.arena.size());
      for (size_t i : order) blob.append(global_.key(global_.entries[i]));
    }
    py::array_t<uint32_t> lengths(py::ssize_t(order.size()));
    py::array_t<uint64_t> counts(py::ssize_t(order.size()));
    auto L = lengths.mutable_unchecked<1>();
    auto C = counts.mutable_unchecked<1>();
    for (size_t i = 0; i < order.size(); i++) {
      L(py::ssize_t(i)) = global_.entries[order[i]].len;
      C(py::ssize_t(i)) = global_.entries[order[i]].count;
    }
    py::bytes pyblob(blob);
    global_ = Table();
    return py::make_tuple(pyblob, lengths, counts, pruned_n_, pruned_c_);
  }
  uint64_t chars() const { return chars_; }

 private:
  void check_open() {
    if (stopped_.load()) throw py::value_error("this Counter is finished; make a new one");
    rethrow_worker_error();
  }
  // A worker's exception, recorded once (the flag is atomic; the message is guarded by emu_).
  void record_error(const char* what) {
    std::lock_guard<std::mutex> lk(emu_);
    if (failed_.load(std::memory_order_relaxed)) return;
    error_ = what;
    failed_.store(true, std::memory_order_release);
  }
  void rethrow_worker_error() {
    if (!failed_.load(std::memory_order_acquire)) return;
    std::lock_guard<std::mutex> lk(emu_);
    throw std::runtime_error("a counting thread failed: " + error_);
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lk(qmu_);
      if (stopped_.load()) return;
      stopped_.store(true);
    }
    has_job_.notify_all();
    for (auto& t : workers_) t.join();
  }
  void maybe_prune() {  // caller holds gmu_
    if (max_unique_ && global_.size() > 2 * max_unique_) {
      auto d = global_.prune(size_t(max_unique_));
      pruned_n_ += d.first;
      pruned_c_ += d.second;
    }
  }
  // Split and count one job into `local`, then add `local` into the global table.
  void process(const Job& job, Table& local) {
    const uint8_t* s = reinterpret_cast<const uint8_t*>(job.buf.data());
    size_t start = 0;
    for (size_t end : job.ends) {
      split_text(kind_, tables_.get(), s + start, end - start, [&](const uint8_t* p, size_t n) { local.add(p, n, 1); });
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
        has_job_.wait(lk, [&] { return !jobs_.empty() || stopped_.load(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      try {
        process(job, local);
      } catch (std::exception& e) {
        record_error(e.what());
      }
      local.reset(std::min(local.slots.size(), size_t(1) << 20));
    }
  }

  TablesPtr tables_;  // immutable, shared read-only with the workers
  Kind kind_;
  uint64_t max_unique_;
  uint64_t chars_ = 0, pruned_n_ = 0, pruned_c_ = 0;
  Table global_;
  std::mutex gmu_, qmu_, emu_;
  std::condition_variable has_job_;
  std::deque<Job> jobs_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopped_{false}, failed_{false};
  bool finished_ = false;
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
      if (lens[i] > blob.size() - off) throw std::length_error("count blob shorter than its lengths");
      if (lens[i] >= 2 && cnts[i] > 0) {
        id32(woff_.size(), "distinct pre-tokens");
        woff_.push_back(syms_.size());
        wlen_.push_back(lens[i]);
        wcnt_.push_back(int64_t(cnts[i]));
        for (uint32_t j = 0; j < lens[i]; j++) syms_.push_back(uint8_t(blob[off + j]));
      }
      off += lens[i];
    }
    if (off != blob.size()) throw std::length_error("count blob longer than its lengths");
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
        x = id32(sym_.size(), "symbols");
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
    auto r = pairs_.insert(k, id32(pcount_.size(), "pairs"));
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
        n = id32(nodes_.size(), "pair-word links");
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
// split(text, kind, tables): like regex.findall(PRESET, text); a str with lone surrogates is split like any other
// (they are code points of no class, as in `regex`).
py::list split_py(py::handle text, const std::string& kind, TablesPtr tables) {
  Kind k = parse_kind(kind);
  if (k != Kind::identity && !tables)
    throw py::value_error("kind '" + kind + "' needs the class tables (from make_tables); got None");
  Utf8 u = utf8_of(text, "text", true);
  std::vector<std::pair<size_t, size_t>> spans;
  const uint8_t* s = reinterpret_cast<const uint8_t*>(u.data);
  {
    py::gil_scoped_release release;
    split_text(k, tables.get(), s, u.size, [&](const uint8_t* p, size_t n) { spans.emplace_back(size_t(p - s), n); });
  }
  const char* errors = u.has_surrogates ? "surrogatepass" : "strict";
  py::list out(spans.size());
  for (size_t i = 0; i < spans.size(); i++) {
    PyObject* piece = PyUnicode_DecodeUTF8(u.data + spans[i].first, Py_ssize_t(spans[i].second), errors);
    if (!piece) throw py::error_already_set();
    PyList_SET_ITEM(out.ptr(), Py_ssize_t(i), piece);  // steals the reference
  }
  return out;
}

py::list train_merges(py::bytes blob, py::array_t<uint32_t, py::array::c_style | py::array::forcecast> lengths,
                      py::array_t<uint64_t, py::array::c_style | py::array::forcecast> counts, size_t n_merges,
                      size_t max_token_length, int64_t min_frequency) {
  std::string_view b(blob);
  if (lengths.ndim() != 1 || counts.ndim() != 1 || lengths.size() != counts.size())
    throw py::value_error("lengths and counts must be 1-D arrays of the same size");
  std::vector<std::string> merged;
  {
    py::gil_scoped_release release;
    Merger m(b, lengths.data(), counts.data(), size_t(lengths.size()), max_token_length, min_frequency);
    merged = m.run(n_merges);
  }
  py::list out(merged.size());
  for (size_t i = 0; i < merged.size(); i++) {
    PyObject* tok = PyBytes_FromStringAndSize(merged[i].data(), Py_ssize_t(merged[i].size()));
    if (!tok) throw py::error_already_set();
    PyList_SET_ITEM(out.ptr(), Py_ssize_t(i), tok);
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "toksmith native core: preset pre-tokenizer, 64-bit pre-token counting, BPE merges";
  py::class_<Tables, std::shared_ptr<Tables>>(m, "Tables", "Immutable Unicode class tables (from make_tables).");
  m.def("make_tables", &make_tables, py::arg("cat_table"), py::arg("folds"));
  m.def("split", &split_py, py::arg("text"), py::arg("kind"), py::arg("tables").none(true));
  m.def("train_merges", &train_merges, py::arg("blob"), py::arg("lengths"), py::arg("counts"), py::arg("n_merges"),
        py::arg("max_token_length"), py::arg("min_frequency"));
  py::class_<Counter>(m, "Counter")
      .def(py::init<TablesPtr, const std::string&, int64_t, uint64_t>(), py::arg("tables").none(true), py::arg("kind"),
           py::arg("threads"), py::arg("max_unique") = 0)
      .def("feed", &Counter::feed, py::arg("texts"))
      .def("add_counts", &Counter::add_counts, py::arg("blob"), py::arg("lengths"), py::arg("counts"))
      .def("finish", &Counter::finish)
      .def_property_readonly("chars", &Counter::chars);
  py::tuple names(std::size(KIND_NAMES));
  for (size_t i = 0; i < std::size(KIND_NAMES); i++) names[i] = py::str(KIND_NAMES[i].name);
  m.attr("KIND_NAMES") = names;
}
