/**
 * Why a pull from the Hugging Face Hub failed, with a stable code: no access (401/403, set
 * HF_TOKEN), not found (404: repo, revision or file), unreachable (network; names the endpoint),
 * a download that does not match what the Hub's API announced, or a repo with nothing to import.
 */
import { ServiceError } from '../errors.js';

export type HubErrorCode =
  'hub_unauthorized' | 'hub_not_found' | 'hub_unreachable' | 'hub_error' | 'hub_integrity' | 'hub_no_model' | 'hub_offline';

const STATUS: Record<HubErrorCode, number> = {
  hub_unauthorized: 401,
  hub_not_found: 404,
  hub_unreachable: 502,
  hub_error: 502,
  hub_integrity: 502,
  hub_no_model: 422,
  hub_offline: 404,
};

export class HubError extends ServiceError {
  constructor(code: HubErrorCode, message: string, parameter = 'repo') {
    super(STATUS[code], code, message, { parameter });
  }
}
