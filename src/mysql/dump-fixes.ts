import { Transform } from 'node:stream';

const TRIGGER_LINE = Buffer.from('/*!50003 CREATE*/');
const STRAY_END = Buffer.from('; */;;');
const FIXED_END = Buffer.from(' */;;');

/**
 * mysqldump (MySQL 9.7 and earlier) writes a trigger inside versioned comments, its body as stored:
 * `/*!50003 CREATE*\/ … /*!50003 TRIGGER … FOR EACH ROW <body> *\/;;`. A trigger created in a
 * multi-statement query keeps the `;` that ended it in its body, and MySQL then refuses its own
 * dump (`ERROR 1064 … near ' *\/'`). This stream drops that one `;` from such lines, and changes
 * nothing else: lines are scanned only for their start and end, and passed on as they came.
 */
export function mysqlTriggerFix(): Transform {
  let pending: Buffer = Buffer.alloc(0);
  /** Inside a line whose start was already passed on (it cannot be a trigger line). */
  let passing = false;
  const fixLine = (line: Buffer): Buffer =>
    line.subarray(0, TRIGGER_LINE.length).equals(TRIGGER_LINE) && line.subarray(line.length - STRAY_END.length).equals(STRAY_END)
      ? Buffer.concat([line.subarray(0, line.length - STRAY_END.length), FIXED_END])
      : line;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      pending = Buffer.alloc(0);
      const out: Buffer[] = [];
      let start = 0;
      for (let nl = data.indexOf(10, start); nl >= 0; nl = data.indexOf(10, start)) {
        const line = data.subarray(start, nl);
        out.push(passing ? line : fixLine(line), data.subarray(nl, nl + 1));
        passing = false;
        start = nl + 1;
      }
      const rest = data.subarray(start);
      // A line that cannot be a trigger line is passed on at once, not held back until its end.
      const head = rest.subarray(0, TRIGGER_LINE.length);
      if (!passing && head.equals(TRIGGER_LINE.subarray(0, head.length))) pending = Buffer.from(rest);
      else if (rest.length > 0) {
        out.push(rest);
        passing = true;
      }
      callback(null, Buffer.concat(out));
    },
    flush(callback) {
      callback(null, passing ? Buffer.alloc(0) : fixLine(pending));
    },
  });
}
