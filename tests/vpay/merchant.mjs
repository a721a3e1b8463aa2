// A vpay merchant in Node.js, signing with the spec's own sample function (verbatim).
//
//   node merchant.mjs order  <base_url> <app_id> <secret_key> <merchant_order_id>
//       creates an order for 10000 fen and queries it; prints both replies as JSON
//   node merchant.mjs verify <secret_key>   (notification body on stdin)
//       prints "ok" when the notification's sign verifies, "forged" otherwise
import crypto from "node:crypto";
import { readFileSync } from "node:fs";

// 签名算法示例代码 (specs/002), unchanged.
function generateSign(params, secretKey) {
  // 按照ASCII码升序排列参数名
  const sortedKeys = Object.keys(params).sort();

  // 过滤sign参数
  const filteredKeys = sortedKeys.filter(key => key !== 'sign');

  // 拼接参数字符串
  const signString = filteredKeys.map(key => `${key}=${params[key]}`).join('&');

  // 计算HMAC-SHA256签名
  const hmac = crypto.createHmac('sha256', secretKey);
  return hmac.update(signString).digest('hex').toUpperCase();
}

// YYYYMMDDHHMMSS in UTC+8, as the spec's timestamp.
function timestamp() {
  return new Date(Date.now() + 8 * 3600 * 1000).toISOString().replace(/\D/g, "").slice(0, 14);
}

async function call(base, path, params, secret) {
  params.sign = generateSign(params, secret);
  const response = await fetch(`${base}/api/v1${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(params),
  });
  return response.json();
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "order") {
  const [base, appId, secret, merchantOrderId] = args;
  const common = () => ({
    app_id: appId,
    timestamp: timestamp(),
    nonce_str: crypto.randomBytes(8).toString("hex"),
  });
  const created = await call(base, "/orders/create", {
    ...common(),
    merchant_order_id: merchantOrderId,
    amount: 10000,
    channel: "WECHAT_PAY",
    product_desc: "会员月卡",
  }, secret);
  const queried = await call(base, "/orders/query", {
    ...common(),
    merchant_order_id: merchantOrderId,
  }, secret);
  console.log(JSON.stringify({ created, queried }));
} else if (mode === "verify") {
  const [secret] = args;
  const fields = JSON.parse(readFileSync(0, "utf8"));
  console.log(generateSign(fields, secret) === fields.sign ? "ok" : "forged");
} else {
  console.error("usage: merchant.mjs order|verify ...");
  process.exit(2);
}
