/* FastCGI records (lib/fcgi_record.c): the parameters' name-value pairs and the answer's framing. */
#include "first.h"
#include "fcgi_record.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static void run_tests(void)
{
    tly_fcgi_env env = {0};

    /* A one-byte length and a four-byte one (a value of 300 bytes). */
    char params[400];
    size_t n = 0;
    memcpy(params + n, "\x0e\x04REQUEST_METHODPOST", 20);
    n += 20;
    params[n++] = 11;
    memcpy(params + n, "\x80\x00\x01\x2cREQUEST_URI", 15);
    n += 15;
    memset(params + n, 'a', 300);
    n += 300;
    CHECK(tly_fcgi_decode_params(params, n, &env) == 0);
    CHECK_STR(env.vars[0], "REQUEST_METHOD=POST");
    CHECK(strncmp(env.vars[1], "REQUEST_URI=aaa", 15) == 0);
    CHECK_INT(strlen(env.vars[1]), 12 + 300);
    CHECK(env.vars[2] == NULL);

    /* Decoding again replaces what env held; an empty stream is an empty environment. */
    CHECK(tly_fcgi_decode_params("", 0, &env) == 0);
    CHECK(env.vars[0] == NULL);

    /* Lengths past the end, a four-byte length cut short, a NUL in a value: refused. */
    CHECK(tly_fcgi_decode_params(params, n - 1, &env) == -1);
    CHECK(tly_fcgi_decode_params("\x0e", 1, &env) == -1);
    CHECK(tly_fcgi_decode_params("\x01\x80\x00", 3, &env) == -1);
    CHECK(tly_fcgi_decode_params("\x01\x03" "AG\0T", 6, &env) == -1);
    tly_fcgi_env_free(&env);

    /* 70,000 bytes of answer: a record of 65,535, one of 4,465, the stream's empty end, then the
     * request's end with its protocol status. */
    char *text = malloc(70000);
    memset(text, 'x', 70000);
    tly_buf out = {0};
    tly_fcgi_put_stdout(&out, 258, text, 70000);
    tly_fcgi_put_end_request(&out, 258, TLY_FCGI_REQUEST_COMPLETE);
    const unsigned char *r = (const unsigned char *)out.ptr;
    CHECK_INT(out.len, 8 + 65535 + 8 + 4465 + 8 + 16);
    CHECK(r[0] == 1 && r[1] == TLY_FCGI_STDOUT && r[2] == 1 && r[3] == 2 && r[4] == 0xff && r[5] == 0xff);
    r += 8 + 65535;
    CHECK(r[1] == TLY_FCGI_STDOUT && ((r[4] << 8) | r[5]) == 4465);
    r += 8 + 4465;
    CHECK(r[1] == TLY_FCGI_STDOUT && r[4] == 0 && r[5] == 0);
    r += 8;
    CHECK(r[1] == TLY_FCGI_END_REQUEST && r[5] == 8 && r[8 + 4] == TLY_FCGI_REQUEST_COMPLETE);
    tly_buf_free(&out);
    free(text);
}
