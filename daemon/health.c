#include "daemon/health.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/text.h"
#include "lib/thread.h"
#include "storage/db.h"

#define LOG_MODULE "health"

/* ---- the database's probe ---- */

/* On a thread of the pool: the only thing it touches is h's work_ fields. */
static void health__work(uv_work_t *w)
{
	struct health *h = w->data;
	thread_background();
	h->work_ok = db_probe(h->path, h->work_why, sizeof(h->work_why)) == 0;
}

/* Back on the loop: the probe's answer becomes the database's.  A change
 * is logged once, not at each probe. */
static void health__after(uv_work_t *w, int status)
{
	struct health *h = w->data;
	(void)status; /* never cancelled */
	if(h->work_ok && !h->db.ok)
		log_info("the database answers again");
	else if(!h->work_ok && (h->db.ok || strcmp(h->db.why, h->work_why)))
		log_error("the database does not answer: %s", h->work_why);
	h->db.ok = h->work_ok;
	text_copy(h->db.why, sizeof(h->db.why), h->work_ok ? "" : h->work_why);
	h->db.asked_ms = 0;
}

static void health__on_timer(uv_timer_t *t)
{
	struct health *h = t->data;
	if(h->db.asked_ms) /* the last one has not answered: it is late */
		return;
	h->db.asked_ms = clock_mono_ms();
	h->work.data = h;
	if(uv_queue_work(t->loop, &h->work, health__work, health__after)) {
		h->db.asked_ms = 0;
		h->db.ok = false;
		snprintf(h->db.why, sizeof(h->db.why), "the probe cannot start");
	}
}

int health_start(struct health *h, uv_loop_t *loop, const char *path)
{
	memset(h, 0, sizeof(*h));
	h->path = path;
	h->db.ok = db_probe(path, h->db.why, sizeof(h->db.why)) == 0;
	if(!h->db.ok)
		log_error("the database does not answer: %s", h->db.why);
	if(uv_timer_init(loop, &h->timer)) {
		h->db.ok = false;
		snprintf(h->db.why, sizeof(h->db.why), "the probe cannot start");
		return -1;
	}
	h->timer.data = h;
	h->running = true;
	uv_timer_start(&h->timer, health__on_timer, HEALTH_PROBE_MS, HEALTH_PROBE_MS);
	uv_unref((uv_handle_t *)&h->timer);
	return 0;
}

void health_stop(struct health *h)
{
	if(!h->running)
		return;
	h->running = false;
	uv_close((uv_handle_t *)&h->timer, NULL);
}

/* ---- the answer ---- */

/* Says in text (len bytes) how the database is; true when it is well. */
static bool health__database(const struct health_db *db, int64_t now_ms, char *text, size_t len)
{
	if(db->asked_ms && now_ms - db->asked_ms >= HEALTH_PROBE_LATE_MS) {
		snprintf(text, len, "no answer for %lld s", (long long)((now_ms - db->asked_ms) / 1000));
		return false;
	}
	text_copy(text, len, db->ok ? "ok" : db->why);
	return db->ok;
}

/* Says in text (len bytes) whether a's platform has answered within its
 * quiet time, counted from the adapter's start until its first answer;
 * true when it has. */
static bool health__adapter(const struct adapter *a, int64_t now_ms, char *text, size_t len)
{
	int64_t last = a->heard_ms > a->started_ms ? a->heard_ms : a->started_ms;
	if(!a->quiet_ms || now_ms - last <= a->quiet_ms) {
		snprintf(text, len, "ok");
		return true;
	}
	snprintf(text, len, "no answer from the platform for %lld s", (long long)((now_ms - last) / 1000));
	return false;
}

int health_answer(const struct health_db *db, const struct adapter *adapters, int n, bool platforms, bool standby,
                  int64_t now_ms, struct strbuf *out)
{
	char text[200];
	json_t *parts = NULL, *o = NULL;
	char *json = NULL;
	int rc = -1;
	bool well = health__database(db, now_ms, text, sizeof(text));
	if(platforms) {
		if(!(parts = json_object()))
			goto out;
		for(int i = 0; i < n; i++) {
			char said[80];
			well &= health__adapter(&adapters[i], now_ms, said, sizeof(said));
			if(json_object_set_new(parts, adapters[i].ops->name, json_string(said)))
				goto out;
		}
	}
	const char *status = !well ? (platforms ? "unhealthy" : "not ready") : standby ? "standby" : "ok";
	o = parts ? json_pack("{s:s,s:s,s:O}", "status", status, "database", text, "adapters", parts)
	          : json_pack("{s:s,s:s}", "status", status, "database", text);
	if(!o || !(json = json_dumps(o, JSON_COMPACT)) || strbuf_adds(out, json) || strbuf_addc(out, '\n'))
		goto out;
	rc = well && (platforms || !standby) ? 200 : 503;
out:
	free(json);
	json_decref(o);
	json_decref(parts);
	return rc;
}
