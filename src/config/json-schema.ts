/**
 * The config file's JSON Schema for editors (e.g. the YAML language server:
 * `# yaml-language-server: $schema=./portcullis.schema.json`). Same schema the loader
 * validates with, so completion and `config check` never disagree on structure.
 */
import { RawConfigSchema } from './schema.js';

export const CONFIG_SCHEMA_ID = 'urn:portcullis:config:v1';

export function configJsonSchema(): object {
  // JSON round-trip: drops TypeBox's symbol-keyed metadata and hands out a copy callers may mutate.
  const body = JSON.parse(JSON.stringify(RawConfigSchema)) as Record<string, unknown>;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: CONFIG_SCHEMA_ID,
    title: 'Portcullis configuration',
    ...body,
  };
}
