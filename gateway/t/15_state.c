/*
 * 15_state.c - the gateway's state files (state/jsonfile.c) and what the
 * migration record keeps of one (admin/migration.c's migration_filter): the
 * sibling path (no slash, the root, too long), the bounded loader (a FIFO is
 * refused without waiting for a writer, a size cap, duplicate keys, a missing
 * file), the save's mode and its refusal to write through a link planted at
 * the .tmp, and the load filter (a non-object top level or domain, the 17th
 * domain, an overlong received_at: each left out with a line saying why).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw.h"
#include "t.h"

static char dir[] = "/tmp/souk-15-state-XXXXXX";

static const char *
in_dir(const char *name)
{
    static char p[PATH_MAX];

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return p;
}

static void
spew(const char *name, const char *text)
{
    FILE *f = fopen(in_dir(name), "w");

    fputs(text, f);
    fclose(f);
}

static void
test_sibling(void)
{
    char out[PATH_MAX], small[16], *long_path;

    T_EQ_INT(state_sibling_path("var/gateway/routes.json", "migration.json", out, sizeof(out)),
             ERR_OK, "a relative path");
    T_EQ_STR(out, "var/gateway/migration.json", "beside it");
    T_EQ_INT(state_sibling_path("routes.json", "migration.json", out, sizeof(out)), ERR_OK,
             "no slash");
    T_EQ_STR(out, "migration.json", "the current directory");
    T_EQ_INT(state_sibling_path("/routes.json", "migration.json", out, sizeof(out)), ERR_OK,
             "the root");
    T_EQ_STR(out, "/migration.json", "in the root");
    T_EQ_INT(state_sibling_path("/etc/souk/routes.json", "migration.json", small, sizeof(small)),
             ERR_INVALID, "a result that does not fit is refused");
    T_EQ_STR(small, "", "and leaves nothing half-made");
    long_path = malloc(PATH_MAX + 1);
    memset(long_path, 'a', PATH_MAX);
    long_path[0] = '/';
    long_path[PATH_MAX - 8] = '/'; /* the directory fits, the name does not */
    long_path[PATH_MAX] = '\0';
    T_EQ_INT(state_sibling_path(long_path, "migration.json", out, sizeof(out)), ERR_INVALID,
             "a routes path near PATH_MAX: too long");
    free(long_path);
}

static void
test_load(void)
{
    struct buf errors;
    json_t    *doc;
    int        rc;

    buf_init(&errors, 4096);
    spew("ok.json", "{\"a\": 1}");
    rc = json_file_load(in_dir("ok.json"), 100, &doc, &errors);
    T_EQ_INT(rc, ERR_OK, "a small regular file loads");
    T_EQ_INT(json_integer_value(json_object_get(doc, "a")), 1, "as the document");
    json_decref(doc);

    buf_reset(&errors);
    T_EQ_INT(json_file_load(in_dir("ok.json"), 5, &doc, &errors), ERR_INVALID,
             "a file over the limit is refused");
    T_OK(strstr(buf_data(&errors), "larger than the limit") != NULL, "saying so: %s",
         buf_data(&errors));
    T_OK(doc == NULL, "and no document");

    spew("dup.json", "{\"a\": 1, \"a\": 2}");
    buf_reset(&errors);
    T_EQ_INT(json_file_load(in_dir("dup.json"), 100, &doc, &errors), ERR_INVALID,
             "a duplicate key is refused");
    T_OK(strstr(buf_data(&errors), "duplicate") != NULL, "saying so: %s", buf_data(&errors));

    T_OK(mkfifo(in_dir("fifo.json"), 0600) == 0, "a FIFO made");
    buf_reset(&errors);
    T_EQ_INT(json_file_load(in_dir("fifo.json"), 100, &doc, &errors), ERR_INVALID,
             "a FIFO is refused (and not waited on: no writer ever comes)");
    T_OK(strstr(buf_data(&errors), "not a regular file") != NULL, "saying so: %s",
         buf_data(&errors));

    buf_reset(&errors);
    T_EQ_INT(json_file_load(dir, 100, &doc, &errors), ERR_INVALID, "a directory is refused");

    buf_reset(&errors);
    T_EQ_INT(json_file_load(in_dir("none.json"), 100, &doc, &errors), ERR_NOT_FOUND,
             "a missing file: not found");
    buf_free(&errors);
}

static void
test_save(void)
{
    struct stat st;
    json_t     *doc = json_pack("{s:i}", "b", 2);
    char        text[64] = "", victim[PATH_MAX];
    FILE       *f;

    umask(022);
    T_EQ_INT(json_file_save(doc, in_dir("sub/secret.json"), 0600), ERR_OK,
             "saved (its directory made)");
    T_OK(stat(in_dir("sub/secret.json"), &st) == 0 && (st.st_mode & 0777) == 0600,
         "with mode 0600 (got %o)", st.st_mode & 0777);
    T_EQ_INT(json_file_save(doc, in_dir("public.json"), 0644), ERR_OK, "saved again");
    T_OK(stat(in_dir("public.json"), &st) == 0 && (st.st_mode & 0777) == 0644,
         "with mode 0644 (got %o)", st.st_mode & 0777);

    spew("victim", "untouched");
    snprintf(victim, sizeof(victim), "%s", in_dir("victim"));
    T_OK(symlink(victim, in_dir("linked.json.tmp")) == 0, "a link planted at the .tmp");
    T_EQ_INT(json_file_save(doc, in_dir("linked.json"), 0600), ERR_OK, "saved past it");
    f = fopen(in_dir("victim"), "r");
    T_OK(f != NULL && fgets(text, sizeof(text), f) != NULL, "the link's target is read");
    if (f != NULL)
        fclose(f);
    T_EQ_STR(text, "untouched", "and was not written through the link");
    T_OK(lstat(in_dir("linked.json"), &st) == 0 && S_ISREG(st.st_mode), "the file is a file");
    json_decref(doc);
}

static json_t *
report(const char *at)
{
    return json_pack("{s:s,s:s,s:s}", "step", "cutover", "status", "done", "received_at", at);
}

static void
test_filter(void)
{
    struct buf problems;
    json_t    *doc, *kept, *arr = json_array();
    char       name[16];
    int        i;

    buf_init(&problems, 65536);
    kept = migration_filter(arr, &problems);
    T_EQ_INT(json_object_size(kept), 0, "an array: nothing kept");
    T_OK(strstr(buf_data(&problems), "not an object") != NULL, "and said: %s", buf_data(&problems));
    json_decref(kept);
    json_decref(arr);

    buf_reset(&problems);
    doc = json_object();
    for (i = 1; i <= 17; i++) {
        snprintf(name, sizeof(name), "d%02d", i);
        json_object_set_new(doc, name, report("2026-12-08T00:00:00.000Z"));
    }
    kept = migration_filter(doc, &problems);
    T_EQ_INT(json_object_size(kept), 16, "16 domains kept");
    T_OK(strstr(buf_data(&problems), "left out: more than 16 domains") != NULL,
         "the 17th domain is left out and said: %s", buf_data(&problems));
    T_EQ_STR(json_string_value(json_object_get(json_object_get(kept, "d01"), "received_at")),
             "2026-12-08T00:00:00.000Z", "a kept domain keeps its received_at");
    T_OK(json_object_get(json_object_get(doc, "d01"), "received_at") != NULL,
         "the file's document is not changed");
    json_decref(kept);
    json_decref(doc);

    /* The other reasons, in a record small enough that the cap is not one. */
    buf_reset(&problems);
    doc = json_pack("{s:i,s:o,s:o,s:o}", "flat", 3, "long",
                    report("2026-12-08T00:00:00.000Z-and-then-some-more-bytes"), "bad",
                    json_pack("{s:i,s:s}", "step", 7, "received_at", "2026-12-08T00:00:00Z"),
                    "good", report("2026-12-08T00:00:00Z"));
    kept = migration_filter(doc, &problems);
    T_EQ_INT(json_object_size(kept), 1, "one of four kept");
    T_OK(json_object_get(kept, "good") != NULL, "the good one");
    T_OK(strstr(buf_data(&problems), "domain flat left out: not an object\n") != NULL,
         "a domain that is not an object is left out and said: %s", buf_data(&problems));
    T_OK(strstr(buf_data(&problems), "domain long left out: received_at longer") != NULL,
         "an overlong received_at is left out and said");
    T_OK(strstr(buf_data(&problems),
                "domain bad left out: report.step: must be a string; report.status: required\n") !=
             NULL,
         "a report the checks refuse is left out and said, on one line");
    json_decref(kept);
    json_decref(doc);
    buf_free(&problems);
}

int
main(void)
{
    T_OK(mkdtemp(dir) != NULL, "a scratch directory");
    test_sibling();
    test_load();
    test_save();
    test_filter();
    {
        char cmd[PATH_MAX + 16];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        T_OK(system(cmd) == 0, "scratch removed");
    }
    return T_DONE();
}
