/* The native engine's breadth-first search, linked with one generated model.
 *
 * `checker.native.csource` puts this text after the model's constants (W words per
 * packed state, NPROPS properties, NACTIONS actions, CHECK_EVERY, INITIAL) and before
 * its three functions: expand() (successors in action order), observe() (properties
 * and premises) and is_final(). The loop mirrors checker/engines/explicit.py step by
 * step -- states kept once in BFS order with their parent, the same level, limit and
 * stop checks in the same order -- so both engines count the same states and transitions
 * and find the same first counterexamples. mc_run() returns to Python every CHECK_EVERY
 * states (progress, time limit, Ctrl-C, checkpoints); mc_dump() and mc_load() copy the
 * stored states and parents out and in, for checkpoints Python writes and reads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The seen-set: open addressing over slots. When a state fits one word with a bit to
 * spare (STATE_BITS < 64), a slot holds the state itself, so a lookup reads one slot and
 * never the state array (most successors were seen: this is where BFS spends its time);
 * all ones marks an empty slot, which no state can be. Otherwise a slot holds the
 * state's index + 1 (0: empty) and a lookup compares the stored state. */
#if W == 1 && STATE_BITS < 64
typedef uint64_t Slot;
#define EMPTY UINT64_MAX
#define SLOT_OF(c, i) ((c)->states[i])
#define SAME(c, slot, t) ((slot) == (t)[0])
#else
typedef uint32_t Slot;
#define EMPTY 0u
#define SLOT_OF(c, i) ((Slot)((i) + 1))
#define SAME(c, slot, t) (memcmp((c)->states + (int64_t)((slot) - 1) * W, (t), W * sizeof *(t)) == 0)
#endif

enum { MC_YIELD, MC_DONE, MC_REFUTED, MC_DEPTH, MC_STATES, MC_NOMEM };

/* The counters Python reads after each run (a ctypes Structure mirrors this). */
typedef struct {
    int64_t states;         /* stored states, in BFS order */
    int64_t next;           /* the next state to expand */
    int64_t transitions;
    int64_t depth;
    int64_t level_end;      /* the first state of the next BFS level */
    int64_t deadlocks;
    int64_t first_deadlock; /* -1: none */
    int64_t pending;        /* checked properties not refuted yet */
    int64_t unseen;         /* properties whose premise has not held yet */
    int64_t unfired;        /* actions never fired */
} Counters;

typedef struct {
    Counters n;             /* first: Python casts the handle to Counters * */
    int64_t max_states;     /* -1: no limit */
    int64_t max_depth;      /* -1: no limit */
    int stop_when_refuted;
    int wanted;             /* whether any property is checked */
    int nomem;
    int64_t cap;            /* room in states/parent */
    uint64_t *states;       /* W words per state */
    int32_t *parent;
    Slot *slots;            /* the seen-set (see Slot) */
    uint64_t mask;          /* slot count - 1 (a power of two) */
    int64_t found[NPROPS + 1];
    uint8_t want[NPROPS + 1];
    uint8_t premise[NPROPS + 1];
    uint8_t fired[NACTIONS + 1];
} Search;

static void expand(Search *c, int64_t i);
static void observe(Search *c, const uint64_t *s, int64_t idx);
static int is_final(const uint64_t *s);

static uint64_t hash(const uint64_t *s) {
    uint64_t h = 0x9E3779B97F4A7C15u;
    for (int k = 0; k < W; k++) {
        h ^= s[k];
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDu;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53u;
        h ^= h >> 33;
    }
    return h;
}

static Slot *empty_slots(uint64_t n) {
    Slot *slots = malloc(n * sizeof *slots);
    if (slots)
        memset(slots, EMPTY ? 0xFF : 0, n * sizeof *slots);
    return slots;
}

/* A slot table of mask + 1 slots holding every stored state (all distinct). */
static int fill(Search *c, uint64_t mask) {
    Slot *slots = empty_slots(mask + 1);
    if (!slots)
        return 0;
    for (int64_t i = 0; i < c->n.states; i++) {
        uint64_t h = hash(c->states + i * W) & mask;
        while (slots[h] != EMPTY)
            h = (h + 1) & mask;
        slots[h] = SLOT_OF(c, i);
    }
    free(c->slots);
    c->slots = slots;
    c->mask = mask;
    return 1;
}

/* Double the slot table. */
static int rehash(Search *c) { return fill(c, c->mask * 2 + 1); }

static int reserve(Search *c, int64_t cap) {
    uint64_t *states = realloc(c->states, (size_t)cap * W * sizeof *states);
    if (!states)
        return 0;
    c->states = states;
    int32_t *parent = realloc(c->parent, (size_t)cap * sizeof *parent);
    if (!parent)
        return 0;
    c->parent = parent;
    c->cap = cap;
    return 1;
}

static int grow(Search *c) { return reserve(c, c->cap * 2); }

/* Store `t` (whose hash is `full`) if it is new: its index, or -1 if it was seen (or
 * memory ran out). */
static int64_t insert(Search *c, const uint64_t *t, uint64_t full, int64_t from) {
    uint64_t h = full & c->mask;
    for (Slot slot; (slot = c->slots[h]) != EMPTY; h = (h + 1) & c->mask)
        if (SAME(c, slot, t))
            return -1;
    int64_t idx = c->n.states;
    if (idx >= INT32_MAX - 1 || (idx == c->cap && !grow(c))) {
        c->nomem = 1;
        return -1;
    }
    memcpy(c->states + idx * W, t, W * sizeof *t);
    c->parent[idx] = (int32_t)from;
    c->slots[h] = SLOT_OF(c, idx);
    c->n.states = idx + 1;
    if ((uint64_t)c->n.states * 2 > c->mask && !rehash(c))
        c->nomem = 1;
    return idx;
}

/* The first (so shortest) violation of a checked property. */
static void refute(Search *c, int k, int64_t idx) {
    c->want[k] = 0;
    c->found[k] = idx;
    c->n.pending--;
}

static void premise_holds(Search *c, int k) {
    c->premise[k] = 1;
    c->n.unseen--;
}

/* One transition of state `from` by action `act` to `t`. */
static inline void visit(Search *c, int64_t from, int act, const uint64_t *t, uint64_t full) {
    c->n.transitions++;
    if (!c->fired[act]) {
        c->fired[act] = 1;
        c->n.unfired--;
    }
    int64_t idx = insert(c, t, full, from);
    if (idx >= 0 && (c->n.pending || c->n.unseen))
        observe(c, t, idx);
}

#ifdef NGROUPS
/* Symmetry reduction (checker/symmetry.py, the same canonical form): the field at bit
 * `off`, `width` < 64 bits wide, of a packed state, read and written. */
static uint64_t get_field(const uint64_t *s, int off, int width) {
    int w = off / 64, b = off % 64;
    uint64_t v = s[w] >> b;
    if (b + width > 64)
        v |= s[w + 1] << (64 - b);
    return v & ((UINT64_C(1) << width) - 1);
}

static void put_field(uint64_t *s, int off, int width, uint64_t v) {
    int w = off / 64, b = off % 64;
    uint64_t mask = (UINT64_C(1) << width) - 1;
    s[w] = (s[w] & ~(mask << b)) | v << b;
    if (b + width > 64)
        s[w + 1] = (s[w + 1] & ~(mask >> (64 - b))) | v >> (64 - b);
}

/* Sort each group's process records, compared field by field in declaration order (the
 * Python canon reads a record as one number, first field most significant: the same
 * order). GROUP_PROCS/GROUP_FIELDS give each group's shape; FIELD_OFF/FIELD_WIDTH its
 * fields, process by process. */
static void canon(uint64_t *s) {
    const int16_t *off = FIELD_OFF, *width = FIELD_WIDTH;
    for (int g = 0; g < NGROUPS; g++) {
        int np = GROUP_PROCS[g], nf = GROUP_FIELDS[g], moved = 0;
        uint64_t rec[MAX_PROCS][MAX_FIELDS], tmp[MAX_FIELDS];
        for (int p = 0; p < np; p++)
            for (int f = 0; f < nf; f++)
                rec[p][f] = get_field(s, off[p * nf + f], width[p * nf + f]);
        for (int p = 1; p < np; p++) { /* insertion sort: a handful of processes */
            int q = p;
            memcpy(tmp, rec[p], nf * sizeof *tmp);
            while (q > 0) {
                int f = 0;
                while (f < nf && rec[q - 1][f] == tmp[f])
                    f++;
                if (f == nf || rec[q - 1][f] < tmp[f])
                    break;
                memcpy(rec[q], rec[q - 1], nf * sizeof *tmp);
                q--;
                moved = 1;
            }
            memcpy(rec[q], tmp, nf * sizeof *tmp);
        }
        if (moved)
            for (int p = 0; p < np; p++)
                for (int f = 0; f < nf; f++)
                    put_field(s, off[p * nf + f], width[p * nf + f], rec[p][f]);
        off += np * nf;
        width += np * nf;
    }
}
#endif

/* The n successors of state `from`, in action order (each made its orbit's
 * representative under symmetry reduction): all hashed first and their slots
 * prefetched, so that the lookups' cache misses overlap instead of following each other;
 * then visited in order, exactly as one by one. */
static void visit_all(Search *c, int64_t from, uint64_t *succ, const int *act, int n) {
    uint64_t full[NACTIONS + 1];
    for (int k = 0; k < n; k++) {
#ifdef NGROUPS
        canon(succ + k * W);
#endif
        full[k] = hash(succ + k * W);
        __builtin_prefetch(c->slots + (full[k] & c->mask));
    }
    for (int k = 0; k < n; k++)
        visit(c, from, act[k], succ + k * W, full[k]);
}

static void deadlock(Search *c, int64_t i) {
    if (c->n.deadlocks++ == 0)
        c->n.first_deadlock = i;
}

void mc_free(Search *c) {
    if (!c)
        return;
    free(c->states);
    free(c->parent);
    free(c->slots);
    free(c);
}

/* A search holding the initial state, observed; NULL if memory ran out. */
Search *mc_new(int64_t max_states, int64_t max_depth, int stop_when_refuted, const uint8_t *want) {
    Search *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->max_states = max_states;
    c->max_depth = max_depth;
    c->stop_when_refuted = stop_when_refuted;
    c->cap = 1024;
    c->mask = 2047;
    c->states = malloc((size_t)c->cap * W * sizeof *c->states);
    c->parent = malloc((size_t)c->cap * sizeof *c->parent);
    c->slots = empty_slots(c->mask + 1);
    if (!c->states || !c->parent || !c->slots) {
        mc_free(c);
        return NULL;
    }
    for (int k = 0; k < NPROPS; k++) {
        c->found[k] = -1;
        c->want[k] = want[k];
        c->wanted |= want[k];
        c->n.pending += want[k];
    }
    c->n.unseen = NPROPS;
    c->n.unfired = NACTIONS;
    c->n.first_deadlock = -1;
    c->n.level_end = 1;
    insert(c, INITIAL, hash(INITIAL), -1);
    observe(c, INITIAL, 0);
    return c;
}

/* Expand states until the queue is empty or a stop condition holds, yielding to Python
 * (MC_YIELD) before every CHECK_EVERY-th state, where the Python engine checks its time
 * limit: call again with `resume` set to expand that state and go on. */
int mc_run(Search *c, int resume) {
    int64_t start = c->n.next;
    while (c->n.next < c->n.states) {
        int64_t i = c->n.next;
        if (i == c->n.level_end) {
            c->n.depth++;
            c->n.level_end = c->n.states;
        }
        if (c->stop_when_refuted && c->wanted && !c->n.pending)
            return MC_REFUTED;
        if (c->max_depth >= 0 && c->n.depth >= c->max_depth)
            return MC_DEPTH;
        if (i % CHECK_EVERY == 0 && !(resume && i == start))
            return MC_YIELD;
        expand(c, i);
        if (c->nomem)
            return MC_NOMEM;
        c->n.next = i + 1;
        if (c->max_states >= 0 && c->n.states >= c->max_states && c->n.next < c->n.states)
            return MC_STATES;
    }
    return MC_DONE;
}

/* Replace what the search stored by a checkpoint's `count` states and parents, and what it
 * found: each property's first violation (-1: none), whether it is still checked, whether
 * its premise held, whether each action fired. Python sets the other counters. 0 if
 * memory ran out. */
int mc_load(Search *c, const uint64_t *states, const int32_t *parent, int64_t count, const int64_t *found,
            const uint8_t *want, const uint8_t *premise, const uint8_t *fired) {
    uint64_t mask = c->mask;
    while ((uint64_t)count * 2 > mask)
        mask = mask * 2 + 1;
    if (count >= INT32_MAX - 1 || (count > c->cap && !reserve(c, count)))
        return 0;
    memcpy(c->states, states, (size_t)count * W * sizeof *states);
    memcpy(c->parent, parent, (size_t)count * sizeof *parent);
    c->n.states = count;
    if (!fill(c, mask))
        return 0;
    c->n.pending = c->n.unseen = c->n.unfired = 0;
    for (int k = 0; k < NPROPS; k++) {
        c->found[k] = found[k];
        c->want[k] = want[k];
        c->premise[k] = premise[k];
        c->n.pending += want[k];
        c->n.unseen += !premise[k];
    }
    for (int a = 0; a < NACTIONS; a++) {
        c->fired[a] = fired[a];
        c->n.unfired += !fired[a];
    }
    return 1;
}

void mc_dump(const Search *c, uint64_t *states, int32_t *parent) {
    memcpy(states, c->states, (size_t)c->n.states * W * sizeof *states);
    memcpy(parent, c->parent, (size_t)c->n.states * sizeof *parent);
}

int64_t mc_found(const Search *c, int k) { return c->found[k]; }
int mc_want(const Search *c, int k) { return c->want[k]; }
int mc_premise(const Search *c, int k) { return c->premise[k]; }
int mc_fired(const Search *c, int a) { return c->fired[a]; }
int64_t mc_parent(const Search *c, int64_t i) { return c->parent[i]; }
void mc_state(const Search *c, int64_t i, uint64_t *out) { memcpy(out, c->states + i * W, W * sizeof *out); }
