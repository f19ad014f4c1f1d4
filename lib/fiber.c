#include "first.h"
#include "fiber.h"
#include "mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer keeps its own idea of which stack the thread is on: each switch is announced,
 * or it reports the fiber's stack frames as overflows of the thread's stack. */
#include <dlfcn.h>
#include <pthread.h>
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define SWITCH_START(fake, bottom, size) __sanitizer_start_switch_fiber(fake, bottom, size)
#define SWITCH_FINISH(fake, bottom, size) __sanitizer_finish_switch_fiber(fake, bottom, size)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)

/* AddressSanitizer's swapcontext writes a warning that it may be wrong into the sanitizer log of
 * every process that calls it (which the test suite takes for a report), and then clears the
 * shadow of the stack switched to. The switches are announced above instead, and a stack is
 * cleared when a fiber starts on it: so libc's own swapcontext is called. */
static int (*libc_swapcontext)(ucontext_t *, const ucontext_t *);
static pthread_once_t libc_swapcontext_once = PTHREAD_ONCE_INIT;

static void find_libc_swapcontext(void)
{
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    libc_swapcontext = libc ? (int (*)(ucontext_t *, const ucontext_t *))dlsym(libc, "swapcontext") : NULL;
    if (!libc_swapcontext) libc_swapcontext = swapcontext;
}

static int switch_context(ucontext_t *from, const ucontext_t *to)
{
    return libc_swapcontext(from, to);
}
#define SWITCH_SETUP() pthread_once(&libc_swapcontext_once, find_libc_swapcontext)
#else
#define SWITCH_START(fake, bottom, size) ((void)(fake), (void)(bottom), (void)(size))
#define SWITCH_FINISH(fake, bottom, size) ((void)(fake), (void)(bottom), (void)(size))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#define switch_context swapcontext
#define SWITCH_SETUP() ((void)0)
#endif

struct tly_fiber {
    ucontext_t context;
    ucontext_t resumer;            /* where park and return go back to */
    char *mapping;                 /* the stack with its guard page */
    size_t mapping_bytes, page;
    tly_fiber_fn *fn;
    void *arg;
    tly_fiber_scheduler *wake;
    void *wake_ctx;
    bool done;
    void *fake_stack;              /* AddressSanitizer's, while the fiber is switched out */
    const void *resumer_bottom;    /* the resumer's stack, for AddressSanitizer */
    size_t resumer_size;
};

static _Thread_local tly_fiber *running;

tly_fiber *tly_fiber_new(size_t stack_bytes)
{
    SWITCH_SETUP();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t bytes = page + ((stack_bytes + page - 1) & ~(page - 1));
    char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
    if (m == MAP_FAILED) return NULL;
    /* A fiber that runs off its stack faults on the guard page instead of writing over memory. */
    if (mprotect(m, page, PROT_NONE) != 0) {
        munmap(m, bytes);
        return NULL;
    }
    tly_fiber *f = tly_xcalloc(1, sizeof *f);
    f->mapping = m;
    f->mapping_bytes = bytes;
    f->page = page;
    f->done = true;
    return f;
}

void tly_fiber_free(tly_fiber *f)
{
    if (!f) return;
    munmap(f->mapping, f->mapping_bytes);
    free(f);
}

void tly_fiber_trim(tly_fiber *f, size_t keep_bytes)
{
    if (!f->done) return;
    size_t stack = f->mapping_bytes - f->page;
    if (keep_bytes >= stack) return;
    size_t drop = (stack - keep_bytes) & ~(f->page - 1);
    madvise(f->mapping + f->page, drop, MADV_DONTNEED);
}

/* The fiber's first frame. makecontext passes int arguments only: the fiber is the thread's
 * running one by then. */
static void trampoline(void)
{
    tly_fiber *f = running;
    SWITCH_FINISH(NULL, &f->resumer_bottom, &f->resumer_size);
    f->fn(f->arg);
    f->done = true;
    /* No fake stack to keep: this stack is done with (NULL tells AddressSanitizer so). */
    SWITCH_START(NULL, f->resumer_bottom, f->resumer_size);
    /* Returning goes to uc_link, the resumer. */
}

void tly_fiber_start(tly_fiber *f, tly_fiber_fn *fn, void *arg, tly_fiber_scheduler *wake, void *ctx)
{
    f->fn = fn;
    f->arg = arg;
    f->wake = wake;
    f->wake_ctx = ctx;
    f->done = false;
    getcontext(&f->context);
    f->context.uc_stack.ss_sp = f->mapping + f->page;
    f->context.uc_stack.ss_size = f->mapping_bytes - f->page;
    f->context.uc_link = &f->resumer;
    UNPOISON(f->context.uc_stack.ss_sp, f->context.uc_stack.ss_size);
    makecontext(&f->context, trampoline, 0);
}

bool tly_fiber_resume(tly_fiber *f)
{
    tly_fiber *outer = running;   /* NULL: fibers are resumed from a thread's own stack */
    running = f;
    void *fake = NULL;
    SWITCH_START(&fake, f->mapping + f->page, f->mapping_bytes - f->page);
    switch_context(&f->resumer, &f->context);
    SWITCH_FINISH(fake, NULL, NULL);
    running = outer;
    return !f->done;
}

tly_fiber *tly_fiber_current(void)
{
    return running;
}

void tly_fiber_park(void)
{
    tly_fiber *f = running;
    if (!f) abort();   /* only a fiber can park: a thread would never be resumed */
    SWITCH_START(&f->fake_stack, f->resumer_bottom, f->resumer_size);
    switch_context(&f->context, &f->resumer);
    SWITCH_FINISH(f->fake_stack, &f->resumer_bottom, &f->resumer_size);
}

void tly_fiber_unpark(tly_fiber *f)
{
    f->wake(f->wake_ctx, f);
}
