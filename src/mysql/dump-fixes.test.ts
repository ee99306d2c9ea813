import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { mysqlTriggerFix } from './dump-fixes.js';

const BROKEN = '/*!50003 CREATE*/ /*!50017 DEFINER=`app`@`%`*/ /*!50003 TRIGGER `t` AFTER INSERT ON `o` FOR EACH ROW INSERT INTO a (x) VALUES (NEW.id); */;;';
const FIXED = '/*!50003 CREATE*/ /*!50017 DEFINER=`app`@`%`*/ /*!50003 TRIGGER `t` AFTER INSERT ON `o` FOR EACH ROW INSERT INTO a (x) VALUES (NEW.id) */;;';

/** Feeds `input` through the fix in chunks of `size` bytes. */
async function through(input: string, size: number): Promise<string> {
  const bytes = Buffer.from(input);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return text(Readable.from(chunks).pipe(mysqlTriggerFix()));
}

describe("MySQL's dump of a trigger whose body kept its ';'", () => {
  const dump = ['DELIMITER ;;', BROKEN, 'DELIMITER ;', "INSERT INTO `o` VALUES (1,'a; */;;'),(2,'b');", FIXED, 'CREATE TABLE x (id INT);', ''].join('\n');
  const expected = dump.replace(BROKEN, FIXED);

  it('drops that one semicolon and changes nothing else, whatever the chunk boundaries', async () => {
    for (const size of [1, 2, 7, 17, 64, 100_000]) assert.equal(await through(dump, size), expected, `chunks of ${size}`);
  });

  it('a dump without a final newline, and lines that only look alike, pass unchanged', async () => {
    assert.equal(await through(BROKEN, 5), FIXED);
    const lookalike = "INSERT INTO t VALUES ('/*!50003 CREATE*/ x; */;;');\n-- /*!50003 CREATE*/ y; */;;\n";
    assert.equal(await through(lookalike, 3), lookalike);
  });
});
