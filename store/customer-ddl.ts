import { LLM_REQUESTS_MV } from './llm-ddl.js';
import { SLI_1M_MV_V2 } from './slo-ddl.js';

/**
 * Migration 10 (issue 15): the customer a virtual key belongs to, beside key_id and team, in
 * llm_requests and sli_1m, so spend per customer is one GROUP BY. Rows from before read ''.
 * The key itself is never a column anywhere: only its id.
 */

export const LLM_REQUESTS_CUSTOMER = "ALTER TABLE llm_requests ADD COLUMN IF NOT EXISTS customer LowCardinality(String) AFTER team";

/**
 * In sli_1m the customer must be part of the sorting key: an AggregatingMergeTree folds rows with
 * equal keys into one, and a plain column would keep one customer's name for another's spend.
 * ClickHouse lets a sorting key grow only by a column added in the same ALTER (and re-running it
 * is a no-op), so both clauses go together; it is appended after `minute`, the primary key stays.
 */
export const SLI_1M_CUSTOMER = `
ALTER TABLE sli_1m
    ADD COLUMN IF NOT EXISTS customer LowCardinality(String) AFTER team,
    MODIFY ORDER BY (route, provider, model, key_id, team, minute, customer)`;

export const DROP_LLM_REQUESTS_MV = 'DROP VIEW IF EXISTS llm_requests_mv';
export const DROP_SLI_1M_MV_V2 = 'DROP VIEW IF EXISTS sli_1m_mv';

/** A view's SELECT with `customer` carried next to `team` (the same view otherwise, so the two cannot drift). */
function withCustomer(view: string, from: RegExp, to: string): string {
  const out = view.replace(from, to);
  if (out === view) throw new Error('migration 10: the view to extend no longer has the shape it was written against');
  return out;
}

export const LLM_REQUESTS_MV_V2 = withCustomer(LLM_REQUESTS_MV, /(\s+SpanAttributes\['keel\.team'\] AS team,)/, "$1\n    SpanAttributes['keel.customer'] AS customer,");

const sliView = (v: string) => withCustomer(withCustomer(v, /key_id, team,\n/, 'key_id, team, customer,\n'), /GROUP BY minute, route, provider, model, key_id, team$/, 'GROUP BY minute, route, provider, model, key_id, team, customer');

export const SLI_1M_MV_V3 = sliView(SLI_1M_MV_V2);
