// Nothing in this file is a secret reference.
// getSecret("line_comment")
/* getSecret("block_comment") */
/**
 * secrets.getSecretValue("jsdoc")
 */
const a = "getSecret('double_quoted')";
const b = 'secrets.getSecretValue("single_quoted")';
const c = `getSecret("template_text")`;
const d = `${a} getSecret("template_tail")`;
const e = /getSecret\("regex_literal"\)/;
const f = x / getSecret / y; // division, not a call
const g = cache.getSecretKey("other_method");
const h = { getSecretValue: undefined };
if (a) /getSecret("after_if")/.test(b);
export { getSecret } from "./helpers";
import { getSecret } from 'wix-secrets-backend';
function unused(getSecret) { return getSecret; }
