<?php

/**
 * A small client of Dovecot's doveadm HTTP API, for the fetchmail commands.
 *
 * One command per request (Dovecot 2.3.19 answers several failed commands
 * in one batch with invalid JSON). A reply is either rows or an exit code;
 * every failure is a fetchmail_api_error that says what kind it is, so
 * that the page can tell a person something they can act on. The API key
 * is sent in the Authorization header only: it never appears in an error,
 * a log line or the browser.
 *
 * @license GNU GPLv3+
 */
class fetchmail_api
{
    /** doveadm's exit codes, as the fetchmail commands use them */
    const EX_USAGE    = 64;
    const EX_DATAERR  = 65;
    const EX_NOUSER   = 67;
    const EX_NOTFOUND = 68;
    const EX_TEMPFAIL = 75;
    const EX_NOPERM   = 77;
    const EX_CONFIG   = 78;

    private $url;
    private $key;
    private $timeout;
    private $connect_timeout;
    private $commands;

    /**
     * @param string $url             e.g. http://127.0.0.1:8080/doveadm/v1
     * @param string $key             the doveadm_api_key
     * @param int    $timeout         seconds for one whole call
     * @param int    $connect_timeout seconds to connect
     */
    public function __construct($url, $key, $timeout = 30, $connect_timeout = 5)
    {
        $this->url             = $url;
        $this->key             = $key;
        $this->timeout         = max(1, (int) $timeout);
        $this->connect_timeout = max(1, (int) $connect_timeout);
    }

    /**
     * Runs one command and returns its rows (arrays of column => value).
     *
     * @param string $command e.g. fetchmailList
     * @param array  $params  JSON parameters (strings, arrays of strings, bools)
     * @param int    $timeout seconds, for commands that take long (run, test)
     *
     * @return array rows
     * @throws fetchmail_api_error
     */
    public function call($command, array $params, $timeout = null)
    {
        $tag   = 'rc' . bin2hex(random_bytes(4));
        $body  = json_encode([[$command, (object) $params, $tag]]);
        $reply = $this->request('POST', $body, $timeout);

        if (!is_array($reply) || count($reply) != 1 || !is_array($reply[0]) || count($reply[0]) < 3) {
            throw new fetchmail_api_error("$command: unexpected reply", fetchmail_api_error::PROTOCOL);
        }

        list($type, $data, $reply_tag) = $reply[0];

        if ($reply_tag !== $tag) {
            throw new fetchmail_api_error("$command: reply for another request", fetchmail_api_error::PROTOCOL);
        }

        if ($type === 'doveadmResponse' && is_array($data)) {
            return $data;
        }

        if ($type === 'error' && is_array($data)) {
            if (isset($data['exitCode'])) {
                throw new fetchmail_api_error("$command: exit code {$data['exitCode']}",
                    fetchmail_api_error::EXIT_CODE, (int) $data['exitCode']);
            }
            // e.g. {"type":"invalidRequest"}: a parameter this server does not know
            $what = isset($data['type']) ? (string) $data['type'] : 'error';
            throw new fetchmail_api_error("$command: $what", fetchmail_api_error::REQUEST);
        }

        throw new fetchmail_api_error("$command: unexpected reply", fetchmail_api_error::PROTOCOL);
    }

    /**
     * The names of the commands the server offers (GET /doveadm/v1).
     *
     * @return array
     * @throws fetchmail_api_error
     */
    public function commands()
    {
        if ($this->commands === null) {
            $list = $this->request('GET', null, null);
            $this->commands = [];
            foreach ((array) $list as $entry) {
                if (is_array($entry) && isset($entry['command'])) {
                    $this->commands[] = $entry['command'];
                }
            }
        }

        return $this->commands;
    }

    /**
     * Does the server offer this command?
     */
    public function has_command($command)
    {
        return in_array($command, $this->commands(), true);
    }

    private function request($method, $body, $timeout)
    {
        if (!function_exists('curl_init')) {
            throw new fetchmail_api_error('the PHP curl extension is missing', fetchmail_api_error::CONFIG);
        }

        $ch = curl_init($this->url);
        curl_setopt_array($ch, [
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_CONNECTTIMEOUT => $this->connect_timeout,
            CURLOPT_TIMEOUT        => $timeout ? max($timeout, $this->timeout) : $this->timeout,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_PROTOCOLS      => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            CURLOPT_HTTPHEADER     => [
                'Authorization: X-Dovecot-API ' . base64_encode($this->key),
                'Content-Type: application/json',
                'Accept: application/json',
            ],
        ]);

        if ($method == 'POST') {
            curl_setopt($ch, CURLOPT_POST, true);
            curl_setopt($ch, CURLOPT_POSTFIELDS, $body);
        }

        $response = curl_exec($ch);
        $errno    = curl_errno($ch);
        $error    = curl_error($ch);
        $status   = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        curl_close($ch);

        if ($response === false || $errno) {
            $kind = $errno == CURLE_OPERATION_TIMEDOUT ? fetchmail_api_error::TIMEOUT : fetchmail_api_error::DOWN;
            throw new fetchmail_api_error("doveadm HTTP API not reachable: $error", $kind);
        }

        if ($status == 401 || $status == 403) {
            throw new fetchmail_api_error("doveadm HTTP API refused the API key (HTTP $status)", fetchmail_api_error::AUTH);
        }

        if ($status != 200) {
            throw new fetchmail_api_error("doveadm HTTP API answered HTTP $status", fetchmail_api_error::PROTOCOL);
        }

        $data = json_decode($response, true);
        if ($data === null && json_last_error() !== JSON_ERROR_NONE) {
            throw new fetchmail_api_error('doveadm HTTP API sent invalid JSON', fetchmail_api_error::PROTOCOL);
        }

        return $data;
    }
}

/**
 * A failed API call. kind says what failed; for EXIT_CODE, exit_code is
 * doveadm's exit code. The message is for the log: it never holds a
 * password, a token or the API key.
 */
class fetchmail_api_error extends Exception
{
    const DOWN      = 'down';      // not reachable
    const TIMEOUT   = 'timeout';   // no answer in time
    const AUTH      = 'auth';      // the API key was refused
    const PROTOCOL  = 'protocol';  // an answer that is not the API's
    const REQUEST   = 'request';   // refused by doveadm itself (unknown parameter)
    const CONFIG    = 'config';    // the plugin is not set up
    const EXIT_CODE = 'exitcode';  // the command failed with exit_code

    public $kind;
    public $exit_code;

    public function __construct($message, $kind, $exit_code = 0)
    {
        parent::__construct($message);
        $this->kind      = $kind;
        $this->exit_code = $exit_code;
    }

    /**
     * The API itself is unusable (rather than one command failing).
     */
    public function is_unavailable()
    {
        return in_array($this->kind, [self::DOWN, self::TIMEOUT, self::AUTH, self::PROTOCOL, self::CONFIG]);
    }
}
