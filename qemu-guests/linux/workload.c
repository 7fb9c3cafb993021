/*
 * livemig Linux guest workload (built with gcc -O2 -static; runs from the busybox initramfs).
 *
 * usage: lmw MODE MIB [HOT_PERCENT [PAGES_PER_SEC]]
 *   MODE idle      fill MIB MiB once, then re-verify everything slowly (one pass a second)
 *        hotset    rewrite HOT_PERCENT % of the pages (default 10) in a tight loop
 *        memstress rewrite every page in a tight loop (64 words per page: hard for XBZRLE)
 *        text      like hotset, but paced to PAGES_PER_SEC page writes (default 2000), and the
 *                  content is text-like words with every fourth page zero-bodied: the kind of
 *                  memory general-purpose compressors do well on
 *
 * Each 4 KiB page holds realistic, non-zero data: xorshift bytes derived from the page number. A
 * rewritten page gets its pass number at offset 0 and a few words derived from (page, pass); before
 * writing pass N the program checks that the page still holds pass N-1. A lost update on the
 * migration destination therefore shows as a growing `errors=` count. Cold pages are re-verified a
 * slice per pass. Once a second it prints one line to stdout (the serial console):
 *   LMW t=<s> mode=<m> pass=<n> passes/s=<r> errors=<e>
 * and "LMW ready mib=<n> pages=<n> hot=<n>" once the memory is filled.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define WORDS (PAGE / 8u)

static uint64_t mix(uint64_t x) {
  /* splitmix64 finaliser: cheap, and every input bit affects every output bit. */
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static int text_mode;

/* One of 64 fixed 8-byte lowercase "words": 6 bits of information in 8 bytes, as prose has. */
static uint64_t text_word(uint64_t v) {
  uint64_t k = v & 63, w = 0;
  for (int i = 0; i < 7; i++) w |= (uint64_t)('a' + (mix(k * 8 + i) % 26)) << (8 * i);
  return w | (uint64_t)' ' << 56;
}

/* What a rewritten word holds: random-looking, or a text word in text mode. */
static uint64_t shape(uint64_t v) { return text_mode ? text_word(v) : v; }

/* The initial content of word w of page p (word 0 is the pass counter, initially 0). */
static uint64_t base_word(uint64_t p, uint64_t w) {
  uint64_t v = mix(p * WORDS + w);
  /* Text mode: a zero body behind a small header on every fourth page, words on the others. */
  if (text_mode) return ((p & 3) == 3 && w >= 8) ? 0 : text_word(v);
  /* Text-like bytes half of the time, so the data compresses somewhat, as real memory does. */
  return (w & 1) ? (v & 0x3f3f3f3f3f3f3f3full) | 0x4040404040404040ull : v;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Positions rewritten each pass: word 0 (counter) plus `n` words spread over the page. */
static inline uint64_t slot(uint64_t i, uint64_t n) { return 1 + i * ((WORDS - 1) / n); }

static uint64_t errors;

static void check_and_write(uint64_t *pg, uint64_t p, uint64_t pass, uint64_t nwords) {
  uint64_t prev = pass - 1;
  if (pg[0] != prev) errors++;
  else
    for (uint64_t i = 0; i < nwords; i++) {
      uint64_t s = slot(i, nwords);
      uint64_t want = prev == 0 ? base_word(p, s) : shape(mix(p ^ (prev << 40) ^ s));
      if (pg[s] != want) { errors++; break; }
    }
  for (uint64_t i = 0; i < nwords; i++) {
    uint64_t s = slot(i, nwords);
    pg[s] = shape(mix(p ^ (pass << 40) ^ s));
  }
  pg[0] = pass;
}

/* Verify an untouched page against its initial content. */
static void verify_cold(const uint64_t *pg, uint64_t p) {
  if (pg[0] != 0) { errors++; return; }
  for (uint64_t w = 1; w < WORDS; w++)
    if (pg[w] != base_word(p, w)) { errors++; return; }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s idle|hotset|memstress|text MIB [HOT_PERCENT [PAGES_PER_SEC]]\n", argv[0]);
    return 2;
  }
  const char *mode = argv[1];
  uint64_t mib = strtoull(argv[2], NULL, 10);
  uint64_t hot_pct = argc > 3 ? strtoull(argv[3], NULL, 10) : 10;
  int idle = strcmp(mode, "idle") == 0, stress = strcmp(mode, "memstress") == 0;
  text_mode = strcmp(mode, "text") == 0;
  double rate = argc > 4 ? strtod(argv[4], NULL) : 2000.0;
  if (!idle && !stress && !text_mode && strcmp(mode, "hotset") != 0) { fprintf(stderr, "lmw: unknown mode %s\n", mode); return 2; }
  if (mib == 0 || hot_pct == 0 || hot_pct > 100 || !(rate > 0)) { fprintf(stderr, "lmw: bad MIB, HOT_PERCENT or PAGES_PER_SEC\n"); return 2; }
  setvbuf(stdout, NULL, _IOLBF, 0);

  uint64_t pages = mib * 1024 * 1024 / PAGE;
  uint64_t *mem = aligned_alloc(PAGE, pages * PAGE);
  if (!mem) { fprintf(stderr, "lmw: cannot allocate %llu MiB\n", (unsigned long long)mib); return 1; }
  for (uint64_t p = 0; p < pages; p++) {
    uint64_t *pg = mem + p * WORDS;
    pg[0] = 0;
    for (uint64_t w = 1; w < WORDS; w++) pg[w] = base_word(p, w);
  }
  uint64_t hot = idle ? 0 : stress ? pages : (pages * hot_pct + 99) / 100;
  uint64_t nwords = stress ? 64 : 8;
  printf("LMW ready mib=%llu pages=%llu hot=%llu\n", (unsigned long long)mib, (unsigned long long)pages,
         (unsigned long long)hot);

  double t0 = now_s(), last = t0;
  uint64_t pass = 0, last_pass = 0, cold_cursor = hot, written = 0;
  for (;;) {
    pass++;
    for (uint64_t p = 0; p < hot; p++) {
      check_and_write(mem + p * WORDS, p, pass, nwords);
      /* Text mode keeps to its page rate: sleep whenever it is ahead of schedule. */
      if (text_mode && (++written & 63) == 0) {
        double ahead = (double)written / rate - (now_s() - t0);
        if (ahead > 0.001) usleep((useconds_t)(ahead * 1e6));
      }
    }
    /* A slice of the cold pages per pass (all of them per pass when idle). */
    uint64_t cold = pages - hot, slice = idle ? cold : (cold < 64 ? cold : 64);
    for (uint64_t i = 0; i < slice; i++) {
      if (cold_cursor >= pages) cold_cursor = hot;
      verify_cold(mem + cold_cursor * WORDS, cold_cursor);
      cold_cursor++;
    }
    if (idle) sleep(1);
    double t = now_s();
    if (t - last >= 1.0) {
      printf("LMW t=%.0f mode=%s pass=%llu passes/s=%.1f errors=%llu\n", t - t0, mode, (unsigned long long)pass,
             (double)(pass - last_pass) / (t - last), (unsigned long long)errors);
      last = t;
      last_pass = pass;
    }
  }
}
