#!/usr/bin/env php
<?php
// scripts/clients/phpmailer-send.php: send one small message with PHPMailer (Debian's
// libphp-phpmailer 6.6.3, on php-cli 8.2), as a PHP application would: Mailer = smtp,
// SMTPDebug = 2 (the client's and the server's lines).
//
// Usage:
//   php phpmailer-send.php HOST PORT [--auth none|default|plain|login|cram-md5] [--user U]
//                          [--password P] [--tls none|starttls] [--from ADDR] [--to ADDR]
//                          [--ca FILE]
//
// --auth default sets SMTPAuth with no AuthType: PHPMailer then takes the first of CRAM-MD5,
// LOGIN, PLAIN, XOAUTH2 that the server's EHLO offers. --tls starttls sets SMTPSecure = tls
// (STARTTLS required, the certificate checked against --ca, default certs/ca.pem, and HOST);
// --tls none also turns SMTPAutoTLS off (PHPMailer would otherwise start TLS whenever the
// server offers it).
//
// The dialogue (SMTPDebug = 2: "CLIENT -> SERVER: …" and "SERVER -> CLIENT: …", a multi-line
// reply in one entry) goes to stderr, without PHPMailer's time stamps. The last line on stdout
// is what PHPMailer concluded: "sent: <reply to the message>" when send() returned true, or
// "failed: <the server's reply that made it fail> (<PHPMailer's ErrorInfo>)" when it did not.
// PHPMailer's error keeps the reply only without its codes, so a small subclass of its SMTP
// class remembers the whole reply of the first command that failed and the reply to the end
// of the data; it changes nothing PHPMailer sends. Exit code 0 only when sent.

require '/usr/share/php/libphp-phpmailer/autoload.php';

use PHPMailer\PHPMailer\Exception as MailerException;
use PHPMailer\PHPMailer\PHPMailer;
use PHPMailer\PHPMailer\SMTP;

function usage()
{
    fwrite(STDERR, "usage: phpmailer-send.php HOST PORT [--auth none|default|plain|login|cram-md5] "
        . "[--user U] [--password P] [--tls none|starttls] [--from A] [--to A] [--ca FILE]\n");
    exit(2);
}

/** PHPMailer's SMTP client, remembering whole replies; it sends exactly what SMTP sends. */
class RememberingSMTP extends SMTP
{
    /** The reply to the first command (but QUIT) that failed, its lines joined by a space. */
    public $refusal = null;
    /** The reply to the end of the message. */
    public $final = null;

    protected function sendCommand($command, $commandstring, $expect)
    {
        $ok = parent::sendCommand($command, $commandstring, $expect);
        $reply = trim(preg_replace('/\s*\r?\n\s*/', ' ', $this->getLastReply()));
        // A QUIT after a failure (even one written into a broken TLS session) is no refusal.
        if (!$ok && $this->refusal === null && $command !== 'QUIT'
            && preg_match('/^[2-5][0-9][0-9][ -]/', $reply)) {
            $this->refusal = $reply;
        }
        if ($ok && $command === 'DATA END') {
            $this->final = $reply;
        }
        return $ok;
    }
}

$args = array_slice($argv, 1);
if (count($args) < 2 || !ctype_digit($args[1])) {
    usage();
}
$host = array_shift($args);
$port = (int) array_shift($args);
$o = [
    'auth' => 'none', 'user' => 'alice', 'password' => 's3cret', 'tls' => 'none',
    'from' => 'a@example.com', 'to' => 'b@example.com',
    'ca' => realpath(__DIR__ . '/../../certs/ca.pem'),
];
while ($args) {
    $key = array_shift($args);
    if (substr($key, 0, 2) !== '--' || !array_key_exists(substr($key, 2), $o) || !$args) {
        usage();
    }
    $o[substr($key, 2)] = array_shift($args);
}
$authtypes = ['none' => null, 'default' => '', 'plain' => 'PLAIN', 'login' => 'LOGIN',
    'cram-md5' => 'CRAM-MD5'];
if (!array_key_exists($o['auth'], $authtypes) || !in_array($o['tls'], ['none', 'starttls'], true)) {
    usage();
}

$smtp = new RememberingSMTP();
$mail = new PHPMailer(true);
$mail->setSMTPInstance($smtp);
$mail->isSMTP();
$mail->Host = $host;
$mail->Port = $port;
$mail->Helo = 'client.example';
$mail->Hostname = 'client.example';
$mail->Timeout = 10;
$mail->SMTPDebug = SMTP::DEBUG_SERVER;
$mail->Debugoutput = function ($str, $level) {
    fwrite(STDERR, rtrim($str) . "\n");
};
if ($o['tls'] === 'starttls') {
    $mail->SMTPSecure = PHPMailer::ENCRYPTION_STARTTLS;
    $mail->SMTPOptions = ['ssl' => [
        'cafile' => $o['ca'], 'verify_peer' => true, 'verify_peer_name' => true,
        'peer_name' => $host, 'allow_self_signed' => false,
    ]];
} else {
    $mail->SMTPSecure = '';
    $mail->SMTPAutoTLS = false;
}
if ($o['auth'] !== 'none') {
    $mail->SMTPAuth = true;
    $mail->AuthType = $authtypes[$o['auth']];
    $mail->Username = $o['user'];
    $mail->Password = $o['password'];
}

try {
    $mail->setFrom($o['from']);
    $mail->addAddress($o['to']);
    $mail->Subject = 'PHPMailer';
    $mail->MessageID = '<phpmailer-send.' . getmypid() . '@client.example>';
    $mail->Body = "Hello from PHPMailer.\r\n";
    $mail->send();
    echo 'sent: ', $smtp->final, "\n";
    exit(0);
} catch (MailerException $e) {
    $why = trim(preg_replace('/\s+/', ' ', $e->getMessage()));
    echo 'failed: ', $smtp->refusal === null ? $why : "{$smtp->refusal} ($why)", "\n";
    exit(1);
}
