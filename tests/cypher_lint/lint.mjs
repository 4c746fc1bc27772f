// Lint Cypher statements with Neo4j's own front-end (@neo4j-cypher/language-support).
//
// stdin:  {"schema": {labels, relationshipTypes, propertyKeys}, "statements": [...]}
//         or just the statements array; each statement is {name, query, params: [names]}.
// stdout: [{name, errors: [{message, line, col}], warnings: [...]}]  (line and col are 1-based)
//
// Only the declared parameter names count as defined, so a typo in a parameter is an error.
// Functions and procedures are checked against the package's recorded Neo4j 5 catalogue,
// without APOC and GDS (idgraph runs on plain Neo4j Community).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// The package's ESM build uses extension-less imports that Node cannot resolve; load the CJS one.
const { lintCypherQuery, testData } = createRequire(import.meta.url)(
  '@neo4j-cypher/language-support',
);

const PLUGIN_PREFIXES = ['apoc.', 'gds.'];
const ERROR = 1;

function withoutPlugins(registry) {
  return Object.fromEntries(
    Object.entries(registry ?? {}).map(([version, entries]) => [
      version,
      Object.fromEntries(
        Object.entries(entries).filter(
          ([name]) => !PLUGIN_PREFIXES.some((prefix) => name.startsWith(prefix)),
        ),
      ),
    ]),
  );
}

const catalogue = {
  functions: withoutPlugins(testData.mockSchema.functions),
  procedures: withoutPlugins(testData.mockSchema.procedures),
};

function diagnostic(d) {
  return { message: d.message, line: d.range.start.line + 1, col: d.range.start.character + 1 };
}

function lintOne(statement, schema) {
  const dbSchema = {
    ...catalogue,
    labels: schema.labels ?? [],
    relationshipTypes: schema.relationshipTypes ?? [],
    propertyKeys: schema.propertyKeys ?? [],
    parameters: Object.fromEntries((statement.params ?? []).map((name) => [name, null])),
  };
  try {
    const found = lintCypherQuery(statement.query, dbSchema);
    return {
      name: statement.name,
      errors: found.filter((d) => d.severity === ERROR).map(diagnostic),
      warnings: found.filter((d) => d.severity !== ERROR).map(diagnostic),
    };
  } catch (err) {
    return {
      name: statement.name,
      errors: [{ message: `linter crashed: ${err}`, line: 1, col: 1 }],
      warnings: [],
    };
  }
}

const input = JSON.parse(readFileSync(0, 'utf8'));
const { schema = {}, statements } = Array.isArray(input) ? { statements: input } : input;
process.stdout.write(JSON.stringify(statements.map((s) => lintOne(s, schema))));
