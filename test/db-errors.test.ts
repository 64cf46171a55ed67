/** How database failures become client errors (plain data: the errors as node-postgres reports them). */
import assert from 'node:assert/strict';
import { mapDbError } from '../server/platform/db/db-errors.js';
import { AppError, ConflictError, ForbiddenError, ServiceUnavailableError, ValidationError } from '../server/platform/errors.js';

const pgError = (code: string, message = 'from Postgres, quoting the input: "0000-01-01"', hint?: string) => ({ code, message, ...(hint ? { hint } : {}) });

describe('database errors as clients see them', () => {
  it('every data exception (SQLSTATE class 22) is VALIDATION_ERROR, with a message of ours', () => {
    const cases: [string, RegExp][] = [
      ['22008', /outside the range the database can store/], // datetime_field_overflow: year 0000
      ['22009', /time zone offset is out of range/], // invalid_time_zone_displacement_value: +16:00
      ['22007', /date or time is not valid/],
      ['22003', /number is out of range/],
      ['22001', /text is too long/],
      ['22021', /cannot be stored/],
      ['22P05', /cannot be stored/],
      ['22P02', /^Invalid value$/],
      ['22023', /^Invalid value$/],
      ['22012', /^Invalid value$/], // division_by_zero: still a value the caller gave
      ['2200G', /^Invalid value$/], // most_specific_type_mismatch: a code of the class with letters
    ];
    for (const [code, message] of cases) {
      const mapped = mapDbError(pgError(code));
      assert.ok(mapped instanceof ValidationError, code);
      assert.match(mapped.message, message, code);
      assert.doesNotMatch(mapped.message, /0000-01-01/, `${code}: the input is not echoed`);
    }
  });

  it('a function’s own code in HINT wins over the class, and the other classes keep their meaning', () => {
    const raised = mapDbError(pgError('22023', 'The booking’s window is already over', 'VALIDATION_ERROR'));
    assert.ok(raised instanceof ValidationError);
    assert.equal(raised.message, 'The booking’s window is already over');
    assert.ok(mapDbError(pgError('P0001', 'full', 'LOT_FULL')) instanceof ConflictError);
    assert.ok(mapDbError(pgError('42501')) instanceof ForbiddenError);
    assert.ok(mapDbError(pgError('23514')) instanceof ValidationError);
    assert.ok(mapDbError(pgError('57P01')) instanceof ServiceUnavailableError);
    const unknown = pgError('XX000');
    assert.equal(mapDbError(unknown), unknown, 'anything else stays a server fault (INTERNAL_ERROR, logged)');
    assert.ok(!(mapDbError(pgError('23505')) instanceof AppError));
  });
});
