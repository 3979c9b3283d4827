// Mozilla's ical.js (the parser Thunderbird uses), pinned by
// tests/web/package-lock.json, reads each FILE: prints one JSON line per
// file with its calendar's name and each VEVENT's UID, start and end as
// Unix times (ical.js resolves them with the file's own VTIMEZONEs, which
// are registered first), TZID, SEQUENCE, STATUS, and number of VALARMs.
// A file it cannot parse prints {"file": ..., "error": ...}; exit 1.
//
//     node icaljs_check.mjs FILE...
import ICAL from "ical.js";
import { readFileSync } from "node:fs";

let bad = 0;
for (const file of process.argv.slice(2)) {
  try {
    const cal = new ICAL.Component(ICAL.parse(readFileSync(file, "utf8")));
    if (cal.name !== "vcalendar") throw new Error("not a VCALENDAR: " + cal.name);
    for (const vtz of cal.getAllSubcomponents("vtimezone"))
      ICAL.TimezoneService.register(new ICAL.Timezone(vtz));
    const events = cal.getAllSubcomponents("vevent").map((v) => {
      const e = new ICAL.Event(v);
      return {
        uid: e.uid,
        start: e.startDate.toUnixTime(),
        end: e.endDate.toUnixTime(),
        tzid: e.startDate.zone ? e.startDate.zone.tzid : "",
        seq: e.sequence,
        status: v.getFirstPropertyValue("status"),
        summary: e.summary,
        location: e.location,
        description: e.description,
        alarms: v.getAllSubcomponents("valarm").length,
      };
    });
    console.log(JSON.stringify({ file, calname: cal.getFirstPropertyValue("x-wr-calname"), events }));
  } catch (err) {
    console.log(JSON.stringify({ file, error: String(err) }));
    bad = 1;
  }
}
process.exit(bad);
