<?php
// paygate over HTTP/JSON from PHP 8.2 with only ext-curl: authorize, capture part, refund part,
// read back, handle a decline, and retry 409/503 with the same Idempotency-Key.
//   PAYGATE_URL=http://127.0.0.1:50051 PAYGATE_API_KEY=... php paygate.php

declare(strict_types=1);

const ATTEMPTS = 5;

final class PaygateError extends RuntimeException
{
    public function __construct(public readonly int $status, public readonly array $problem)
    {
        parent::__construct(sprintf('%d %s: %s', $status, $problem['reason'] ?? '?', $problem['detail'] ?? ''));
    }
}

/** One call; POSTs carry an Idempotency-Key and are retried with it on 409 and 503. */
function paygate(string $method, string $path, ?array $body = null, ?string $key = null): array
{
    $base = rtrim(getenv('PAYGATE_URL') ?: 'http://127.0.0.1:50051', '/');
    $headers = ['Accept: application/json', 'Content-Type: application/json'];
    if ($apiKey = getenv('PAYGATE_API_KEY')) {
        $headers[] = "Authorization: Bearer $apiKey";
    }
    if ($key !== null) {
        $headers[] = "Idempotency-Key: $key";
    }
    for ($attempt = 1; ; $attempt++) {
        $retryAfter = 0;
        $curl = curl_init($base . $path);
        curl_setopt_array($curl, [
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_POSTFIELDS => $body === null ? null : json_encode($body, JSON_THROW_ON_ERROR),
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_TIMEOUT => 30,
            CURLOPT_HEADERFUNCTION => function ($curl, string $line) use (&$retryAfter): int {
                if (stripos($line, 'retry-after:') === 0) {
                    $retryAfter = (int) trim(substr($line, 12));
                }
                return strlen($line);
            },
        ]);
        $raw = curl_exec($curl);
        $status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        curl_close($curl);
        if ($raw === false) {
            throw new RuntimeException("paygate unreachable at $base");
        }
        $json = json_decode($raw, true, flags: JSON_THROW_ON_ERROR);
        if ($status === 200) {
            return $json;
        }
        if (in_array($status, [409, 503], true) && $attempt < ATTEMPTS) {
            sleep(max(1, $retryAfter)); // same key: nothing is charged twice
            continue;
        }
        throw new PaygateError($status, $json);
    }
}

function check(bool $ok, string $what): void
{
    if (!$ok) {
        fwrite(STDERR, "unexpected: $what\n");
        exit(1);
    }
}

$order = 'php-' . bin2hex(random_bytes(4));
$payment = paygate('POST', '/v1/payments', [
    'provider' => 'mock',
    'amount' => ['currency' => 'MAD', 'minorUnits' => '10000'], // 100.00 MAD; int64 travels as a string
    'merchantReference' => $order,
    'customer' => ['email' => 'buyer@example.ma'],
], key: "$order-authorize");
check($payment['status'] === 'PAYMENT_STATUS_AUTHORIZED', 'authorized');
$id = $payment['id'];

$payment = paygate('POST', "/v1/payments/$id/capture",
    ['amount' => ['currency' => 'MAD', 'minorUnits' => '6000']], key: "$order-capture-1");
$payment = paygate('POST', "/v1/payments/$id/refund",
    ['amount' => ['currency' => 'MAD', 'minorUnits' => '2500'], 'reason' => 'one item returned'], key: "$order-refund-1");

$payment = paygate('GET', "/v1/payments/$id");
check($payment['status'] === 'PAYMENT_STATUS_PARTIALLY_REFUNDED', 'partially refunded');
check($payment['captured']['minorUnits'] === '6000' && $payment['refunded']['minorUnits'] === '2500', 'amounts');
printf("%s %s captured %s refunded %s\n", $id, $payment['status'],
    $payment['captured']['minorUnits'], $payment['refunded']['minorUnits']);

// A decline is an answer, not an error: status DECLINED and the reason in failure.
$declined = paygate('POST', '/v1/payments', [
    'provider' => 'mock',
    'amount' => ['currency' => 'MAD', 'minorUnits' => '5000'],
    'merchantReference' => "$order-declined",
    'paymentToken' => 'mock_decline',
], key: "$order-declined");
check($declined['status'] === 'PAYMENT_STATUS_DECLINED', 'declined');
echo "declined: {$declined['failure']['code']}\n";

// Errors are problem+json with a stable reason.
try {
    paygate('POST', "/v1/payments/$id/refund", ['amount' => ['currency' => 'MAD', 'minorUnits' => '999999']], key: "$order-refund-2");
    check(false, 'refund above the captured amount');
} catch (PaygateError $e) {
    check($e->problem['reason'] === 'AMOUNT_EXCEEDS_REFUNDABLE', 'reason');
    echo "refused: {$e->problem['reason']} ({$e->status})\n";
}
