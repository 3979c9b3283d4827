/* libFuzzer target: Matrix /sync answers, /relations and /messages pages,
 * and the command finder and HTML writer on the bodies they carry.  Also
 * lib/jview against jansson: a text one accepts and the other refuses is a
 * crash (the answers are read by jview on the promise that they agree). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "adapters/matrix_parse.h"
#include "lib/jview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_sync s;
	char err[128], code[64];
	if(size > 1 << 20)
		return 0;
	mx_parse_error((const char *)data, size, code, sizeof(code));
	json_error_t jerr;
	json_t *tree = json_loadb((const char *)data, size, 0, &jerr);
	if((jview_check((const char *)data, size) == 0) != (tree != NULL))
		abort();
	json_decref(tree);
	int rc;
	if(size && (data[0] & 3) == 3)
		rc = mx_parse_messages((const char *)data, size, "!r:x", &s, err, sizeof(err));
	else if(size && (data[0] & 1))
		rc = mx_parse_relations((const char *)data, size, "!r:x", &s, err, sizeof(err));
	else
		rc = mx_parse_sync((const char *)data, size, "@ensemble:x", &s, err, sizeof(err));
	if(rc)
		return 0;
	for(size_t i = 0; i < s.n; i++) {
		if(!s.ev[i].body)
			continue;
		struct strbuf cmd = STRBUF_INIT, html = STRBUF_INIT, ids = STRBUF_INIT;
		mx_command_text(&cmd, s.ev[i].body, s.ev[i].mentions_me, "ensemble", "Ensemble");
		mx_render_html(&html, s.ev[i].body, &ids);
		mx_urlencode(&cmd, s.ev[i].body);
		strbuf_release(&cmd);
		strbuf_release(&html);
		strbuf_release(&ids);
	}
	mx_sync_release(&s);
	return 0;
}
