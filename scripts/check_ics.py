#!/usr/bin/env python3
"""Parses a Hindsight invite with the `icalendar` package (PyPI) and prints what it read as JSON.

The tests use it as a real, independent iCalendar parser. Reads the invite from stdin; with
`--email`, reads a whole email instead and takes its one `text/calendar` part. Every parse
error icalendar records on a component is listed under "errors"; a calendar it cannot read at
all exits with status 1 and the reason.
"""

import email
import json
import sys
from datetime import timezone
from email import policy

import icalendar


def main():
    data = sys.stdin.buffer.read()
    content_method = None
    if "--email" in sys.argv:
        message = email.message_from_bytes(data, policy=policy.default)
        parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        if len(parts) != 1:
            sys.exit(f"expected one text/calendar part, found {len(parts)}")
        content_method = parts[0].get_param("method")
        data = parts[0].get_payload(decode=True)
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception as error:  # the parser's own words are the point
        sys.exit(f"icalendar could not parse the invite: {error}")
    errors = [[component.name, str(error)] for component in calendar.walk() for error in component.errors]
    events = calendar.walk("VEVENT")
    if len(events) != 1:
        sys.exit(f"expected one VEVENT, found {len(events)}")
    event = events[0]
    attendees = event.get("attendee", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    start = event.decoded("dtstart")
    end = event.decoded("dtend")
    print(json.dumps({
        "errors": errors,
        "content_method": content_method,
        "method": str(calendar.get("method")),
        "prodid": str(calendar.get("prodid")),
        "version": str(calendar.get("version")),
        "timezones": [str(tz.get("tzid")) for tz in calendar.walk("VTIMEZONE")],
        "uid": str(event.get("uid")),
        "sequence": int(event.get("sequence")),
        "status": str(event.get("status")),
        "summary": str(event.get("summary")),
        "url": str(event.get("url")),
        "tzid": event["dtstart"].params.get("TZID"),
        "start_utc": start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "minutes": int((end - start).total_seconds() // 60),
        "organizer": str(event.get("organizer")),
        "attendees": [
            {"address": str(a), "cn": a.params.get("CN"), "role": a.params.get("ROLE"),
             "rsvp": a.params.get("RSVP")}
            for a in attendees
        ],
    }))


if __name__ == "__main__":
    main()
