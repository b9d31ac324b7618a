import assert from "node:assert/strict";
import { formatMicroTime, formatTime, parseMicroTime } from "../../../k8s/microtime.ts";

Deno.test("MicroTime has exactly six fractional digits, as Lease and eventTime require", () => {
  const text = formatMicroTime(new Date(Date.UTC(2024, 4, 1, 12, 3, 4, 56)));
  assert.equal(text, "2024-05-01T12:03:04.056000Z");
  assert.match(text, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
});

Deno.test("MicroTime of a whole second still carries six zero digits", () => {
  assert.equal(formatMicroTime(new Date(Date.UTC(2030, 0, 1))), "2030-01-01T00:00:00.000000Z");
});

Deno.test("Time is to the second, without fraction", () => {
  assert.equal(formatTime(new Date(Date.UTC(2024, 4, 1, 12, 3, 4, 999))), "2024-05-01T12:03:04Z");
});

Deno.test("parsing MicroTime keeps milliseconds and drops the extra digits", () => {
  assert.equal(
    parseMicroTime("2024-05-01T12:03:04.056789Z")?.toISOString(),
    "2024-05-01T12:03:04.056Z",
  );
  assert.equal(parseMicroTime("2024-05-01T12:03:04Z")?.toISOString(), "2024-05-01T12:03:04.000Z");
  assert.equal(
    parseMicroTime("2024-05-01T14:03:04.5+02:00")?.toISOString(),
    "2024-05-01T12:03:04.500Z",
  );
});

Deno.test("formatting then parsing MicroTime gives back the same instant", () => {
  const date = new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 999));
  assert.equal(parseMicroTime(formatMicroTime(date))?.getTime(), date.getTime());
});

Deno.test("malformed or missing times parse to undefined", () => {
  assert.equal(parseMicroTime(undefined), undefined);
  assert.equal(parseMicroTime(""), undefined);
  assert.equal(parseMicroTime("yesterday"), undefined);
  assert.equal(parseMicroTime("2024-13-45T99:99:99Z"), undefined);
});
