<?php
// A PHP shop's gateway integration, written the way such shops write it from the spec
// (specs/003): plain arrays, ksort, md5, http_build_query, $_POST, echo "SUCCESS".
// Nothing here comes from paymux; tests/gateway/test_php_client.py drives it.
//
// CLI:   php gateway_merchant.php order ORDER_NO AMOUNT BANK_CODE   → prints the reply JSON
//        php gateway_merchant.php query ORDER_NO                    → prints the reply JSON
//        php gateway_merchant.php vectors                           → prints the spec examples' signs
// Web:   php -S 127.0.0.1:PORT gateway_merchant.php                 → /notify and /return
// Environment: GATEWAY_URL, GATEWAY_APPID, GATEWAY_SECRET, SHOP_URL, SHOP_LOG.

// 签名: add secret, natural (ksort) order, k=v joined with &, no urlencode, md5, lower case.
// Requests drop empty values; callbacks keep them.
function gateway_sign(array $params, string $secret, bool $keep_empty): string
{
    unset($params['sign']);
    $params['secret'] = $secret;
    ksort($params);
    $parts = [];
    foreach ($params as $key => $value) {
        if (!$keep_empty && ($value === '' || $value === null)) {
            continue;
        }
        $parts[] = $key . '=' . $value;
    }
    return strtolower(md5(implode('&', $parts)));
}

function shop_log(array $entry): void
{
    file_put_contents(getenv('SHOP_LOG'), json_encode($entry, JSON_UNESCAPED_UNICODE) . "\n", FILE_APPEND | LOCK_EX);
}

function http_call(string $method, string $url, array $params): string
{
    $body = http_build_query($params);
    $options = ['method' => $method, 'ignore_errors' => true, 'timeout' => 10];
    if ($method === 'POST') {
        $options['header'] = "Content-Type: application/x-www-form-urlencoded\r\n";
        $options['content'] = $body;
    } else {
        $url .= '?' . $body;
    }
    $reply = file_get_contents($url, false, stream_context_create(['http' => $options]));
    if ($reply === false) {
        fwrite(STDERR, "request to $url failed\n");
        exit(2);
    }
    return $reply;
}

if (PHP_SAPI === 'cli') {
    $gateway = getenv('GATEWAY_URL');
    $appid = getenv('GATEWAY_APPID');
    $secret = getenv('GATEWAY_SECRET');
    $command = $argv[1] ?? '';
    if ($command === 'order') {
        $params = [
            'appid' => $appid,
            'order_no' => $argv[2],
            'amount' => $argv[3],
            'bank_code' => $argv[4],
            'product_name' => '会员充值',
            'attach' => urlencode('用户=张三&备注'),  // 中文需要url编码
            'openid' => '',
            'notify_url' => getenv('SHOP_URL') . '/notify',
            'return_url' => getenv('SHOP_URL') . '/return',
        ];
        $params['sign'] = gateway_sign($params, $secret, false);
        $reply = json_decode(http_call('POST', $gateway . '/api/order/unified', $params), true);
        if (!is_array($reply) || $reply['status'] !== '1') {
            fwrite(STDERR, 'order failed: ' . ($reply['message'] ?? 'no JSON') . "\n");
            exit(1);
        }
        echo json_encode(['attach' => $params['attach'], 'reply' => $reply], JSON_UNESCAPED_UNICODE), "\n";
    } elseif ($command === 'query') {
        $params = ['appid' => $appid, 'order_no' => $argv[2]];
        $params['sign'] = gateway_sign($params, $secret, false);
        echo http_call('GET', $gateway . '/api/order/check_order', $params), "\n";
    } elseif ($command === 'vectors') {
        $request = [
            'amount' => '10000', 'appid' => 'gpu10000000', 'bank_code' => '901',
            'notify_url' => 'http://www.notify.com/notify', 'order_no' => '2019xxxxxxxxxxxx',
            'product_name' => 'onlinepay', 'return_url' => 'https://www.return.com/return', 'attach' => '',
        ];
        $callback = [
            'actual_amount' => '10000.00', 'amount' => '10000.00', 'appid' => 'gpu10000000',
            'attach' => '', 'order_no' => '2019xxxxxxx', 'pay_status' => '1',
            'pay_time' => '2019-08-18 00:13:41', 'platform_order_no' => 'A2019xxxxxxxxxxxx',
        ];
        echo gateway_sign($request, 'c1277xxxxxxxx', false), "\n";
        echo gateway_sign($callback, '229254ceaf2xxxxxxxxxxxx', true), "\n";
    } else {
        fwrite(STDERR, "usage: order|query|vectors\n");
        exit(64);
    }
    exit(0);
}

// The shop's web side, behind `php -S`.
$secret = getenv('GATEWAY_SECRET');
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$data = $_POST;
$valid = isset($data['sign']) && hash_equals(gateway_sign($data, $secret, true), $data['sign']);
if ($path === '/notify') {
    // 异步通知: verify, check it is ours, then answer SUCCESS so the platform stops retrying.
    $valid = $valid && $data['appid'] === getenv('GATEWAY_APPID');
    shop_log(['kind' => 'notify', 'valid' => $valid, 'data' => $data,
              'attach_decoded' => urldecode($data['attach'] ?? '')]);
    echo $valid ? 'SUCCESS' : 'FAIL';
} elseif ($path === '/return') {
    // 同步通知: the payer's browser arrives here after paying.
    shop_log(['kind' => 'return', 'valid' => $valid, 'data' => $data]);
    echo $valid && $data['pay_status'] === '1' ? '支付成功' : '支付未完成';
} else {
    http_response_code(404);
}
