/**
 * The port of the Supabase CLI's statement splitter (test/helpers/sql-split.ts) against the cases
 * of the CLI's own tests (supabase/cli, apps/cli-go/pkg/parser/state_test.go): each input is the
 * concatenation of the expected statements.
 */
import assert from 'node:assert/strict';
import { split, splitAndTrim } from './helpers/sql-split.js';

const CASES: Record<string, string[]> = {
  'line comment after separator': ['END;', '-- comment'],
  'line comment before separator': ['SELECT --; 1'],
  'line comment not started': ['- ;', 'END'],
  'line comment between lines': ['-- /* \n;', ' */ END'],
  'block comment contains separator': ['SELECT /* ; */ 1;'],
  'nested block comment': ['SELECT /*; /*;*/ ;*/ 1'],
  'block comment not started': ['/ * ;', ' */ END'],
  'separator, no spaces': [';', 'END;', ';'],
  'separator between spaces': ['BEGIN   ;', '  END'],
  'backslash-escaped separator': ['\\;;', '\\;'],
  'named dollar tag': ['$tag$ any ; string$tag$'],
  'anonymous dollar tag': ['$$"Dane\'s horse"$$'],
  'dollar quote not started': ['SELECT "$";', ' $$'],
  'single quote escapes separator': ["SELECT ';' 1"],
  'doubled single quote': ["SELECT ';'';' 1"],
  'literal backslash in quotes': ["SELECT '\\';", " 1'"],
  'double quote escapes separator': ['CREATE POLICY "cats;dogs" on cats_dogs;', ' END'],
  'double quote keeps a single quote': ['CREATE POLICY "cat\'s and dog\'s" on cats_dogs;', ' END'],
  'doubled double quote': ['CREATE POLICY "pet""name" on pets;', ' END'],
  'parentheses': ['CREATE RULE notify_me AS ON UPDATE TO mytable DO (NOTIFY mytable; SELECT "1");', 'SELECT 1'],
  'parentheses ignore literals': ["CREATE RULE notify_me AS ON UPDATE TO mytable DO (-- )\nSELECT ')';\n-- )\n)\n"],
  'begin atomic': ["CREATE FUNCTION add(a integer, b integer) RETURNS integer\nLANGUAGE SQL\nBEGIN ATOMIC\n\tSELECT 'add';\n\tSELECT a + b;\nEND;"],
  'begin atomic, any case': ["begin atomic; select 'end'; end"],
  'begin atomic ignores literals': ['CREATE FUNCTION test() BEGIN\nATOMIC-- END;\n-- END;\nEND\n;'],
  'atomic inside a name is no begin atomic': [
    'CREATE OR REPLACE FUNCTION public.atomic_example()\nRETURNS INTEGER\nLANGUAGE plpgsql\nAS $$\nBEGIN\n  RETURN 1;\nEND;\n$$;',
    '\nGRANT EXECUTE ON FUNCTION public.atomic_example() TO authenticated;',
  ],
};

describe('the Supabase CLI statement splitter (port)', () => {
  for (const [name, statements] of Object.entries(CASES)) {
    it(name, () => {
      assert.deepEqual([...split(statements.join(''))].sort(), [...statements].sort());
    });
  }

  it('trims what it sends: no trailing semicolon, no surrounding space, no empty statement', () => {
    assert.deepEqual(splitAndTrim('  select 1;\n\n;  -- only a comment\n'), ['select 1', '-- only a comment']);
  });
});
