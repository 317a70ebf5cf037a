<?php
// A paygate webhook receiver in PHP 8.2 with the standard library only (hash_hmac, hash_equals,
// flock): no extension, no Composer package.
//
// Verifies the Standard Webhooks signature on the raw body, refuses stale timestamps and
// replayed webhook-ids, answers 200 at once and only then does the work (here: one log line).
//
//   PAYGATE_WEBHOOK_SECRET=whsec_... php -S 127.0.0.1:3000 receiver.php
//   # then: paygate listen --forward-to http://127.0.0.1:3000/webhooks
// Behind Apache or nginx + PHP-FPM, route POST /webhooks to this file the same way.

declare(strict_types=1);

// How far webhook-timestamp may be from our clock, either way (Standard Webhooks: 5 minutes).
const TOLERANCE_S = 5 * 60;
// How long a webhook-id is remembered. paygate retries a delivery for about a day with the same
// webhook-id (and a fresh timestamp), so a retry after our answer got lost is recognised.
const REMEMBER_S = 48 * 3600;
const MAX_BODY = 1024 * 1024;

function answer(int $status, string $text): void
{
    http_response_code($status);
    header('Content-Type: text/plain');
    echo $text, "\n";
}

/** The HMAC key is the base64-DECODED part after `whsec_`, not the text itself. */
function secret(): ?string
{
    $text = (string) getenv('PAYGATE_WEBHOOK_SECRET');
    if (str_starts_with($text, 'whsec_')) {
        $text = substr($text, strlen('whsec_'));
    }
    $key = base64_decode($text, true);
    return ($key === false || $key === '') ? null : $key;
}

function signatureOk(string $key, string $id, string $timestamp, string $header, string $body): bool
{
    $expected = base64_encode(hash_hmac('sha256', "$id.$timestamp.$body", $key, true));
    $matched = false;
    // Several entries during a key rotation: "v1,<sig> v1,<sig>"; any one may match.
    foreach (explode(' ', $header) as $entry) {
        [$version, $value] = array_pad(explode(',', $entry, 2), 2, '');
        // hash_equals: constant time, so the answer's timing does not leak the signature.
        if ($version === 'v1' && hash_equals($expected, $value)) {
            $matched = true;
        }
    }
    return $matched;
}

/**
 * Records $id as seen unless it already was; false for a repeat. PHP runs each request in its
 * own process (php -S, FPM workers), so the ids live in a file, one "time id" line each, and an
 * exclusive flock makes check-and-record atomic across them. The file is rewritten on every
 * webhook: fine for a shop's volume; beyond that, a table with a UNIQUE webhook_id column (an
 * INSERT that fails on a duplicate) does the same job.
 */
function firstTime(string $id): bool
{
    $path = getenv('PAYGATE_WEBHOOK_SEEN_FILE') ?: sys_get_temp_dir() . '/paygate-webhook-ids';
    $file = fopen($path, 'c+');
    if ($file === false || !flock($file, LOCK_EX)) {
        throw new RuntimeException("cannot lock $path");
    }
    try {
        $now = time();
        $kept = [];
        $seen = false;
        while (($line = fgets($file)) !== false) {
            [$at, $old] = array_pad(explode(' ', rtrim($line, "\n"), 2), 2, '');
            if ($now - (int) $at > REMEMBER_S) {
                continue;
            }
            $kept[] = "$at $old\n";
            $seen = $seen || $old === $id;
        }
        if (!$seen) {
            $kept[] = "$now $id\n";
        }
        ftruncate($file, 0);
        rewind($file);
        fwrite($file, implode('', $kept));
        fflush($file);
        return !$seen;
    } finally {
        flock($file, LOCK_UN);
        fclose($file);
    }
}

if ($_SERVER['REQUEST_METHOD'] !== 'POST' || parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) !== '/webhooks') {
    answer(404, 'not found');
    return;
}
$key = secret();
if ($key === null) {
    error_log('PAYGATE_WEBHOOK_SECRET must be the whsec_... secret paygate gave you');
    answer(500, 'receiver not configured');
    return;
}
// The raw bytes: the signature covers exactly these (never re-encode $_POST or json_decode output).
$body = (string) file_get_contents('php://input', false, null, 0, MAX_BODY + 1);
if (strlen($body) > MAX_BODY) {
    answer(413, 'too large');
    return;
}
$id = $_SERVER['HTTP_WEBHOOK_ID'] ?? '';
$timestamp = $_SERVER['HTTP_WEBHOOK_TIMESTAMP'] ?? '';
$signature = $_SERVER['HTTP_WEBHOOK_SIGNATURE'] ?? '';
if ($id === '' || !ctype_digit($timestamp) || $signature === '') {
    answer(400, 'missing or malformed webhook headers');
    return;
}
if (abs(time() - (int) $timestamp) > TOLERANCE_S) {
    answer(401, 'timestamp outside the 5 minute tolerance');
    return;
}
if (!signatureOk($key, $id, $timestamp, $signature, $body)) {
    answer(401, 'bad signature');
    return;
}
$event = json_decode($body, true);
$paymentId = $event['data']['payment']['id'] ?? null;
if (!is_array($event) || !is_string($event['type'] ?? null) || !is_string($paymentId)) {
    answer(400, 'not a paygate event');
    return;
}
// Only now, with the signature checked, is the id worth remembering.
if (!firstTime($id)) {
    // Already handled: 200 so that the sender stops retrying, but nothing is done again.
    error_log("duplicate $id ignored");
    answer(200, 'duplicate');
    return;
}

// Answer first; slow work (database, e-mail) comes after, so paygate's 10 s timeout never sees
// it. Content-Length and Connection: close let the client finish reading now; under PHP-FPM,
// fastcgi_finish_request() ends the request the same way.
ignore_user_abort(true);
$reply = "ok\n";
http_response_code(200);
header('Content-Type: text/plain');
header('Content-Length: ' . strlen($reply));
header('Connection: close');
echo $reply;
if (function_exists('fastcgi_finish_request')) {
    fastcgi_finish_request();
} else {
    flush();
}
error_log(sprintf('accepted %s payment %s sequence %d', $event['type'], $paymentId, (int) ($event['sequence'] ?? 0)));
