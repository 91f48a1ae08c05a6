<?php

/**
 * Fetchmail: the Settings → Fetchmail page of dovecot-fetchmail.
 *
 * Lists, adds, edits, tests, runs and removes the external POP3/IMAP
 * accounts that Dovecot pulls mail from, and shows their status and last
 * run log. Everything is read from and written to the doveadm HTTP API of
 * the Dovecot running the fetchmail plugin, always with the logged-in
 * login as `actor`: the server decides what that person may see and do
 * (Admin, Domain Admin, User). The plugin keeps no database of its own;
 * the API key stays on the server side.
 *
 * @license GNU GPLv3+
 */

require_once __DIR__ . '/lib/fetchmail_api.php';

class fetchmail extends rcube_plugin
{
    public $task = 'settings';

    /** Account fields: contract name => JSON parameter of the API */
    const FIELDS = [
        'host'        => 'host',
        'port'        => 'port',
        'protocol'    => 'protocol',
        'remote-user' => 'remoteUser',
        'password'    => 'password',
        'tls'         => 'tls',
        'tls-verify'  => 'tlsVerify',
        'keep'        => 'keep',
        'folders'     => 'folders',
        'mailbox'     => 'mailbox',
        'max-size'    => 'maxSize',
        'active'      => 'active',
        'push'        => 'push',
    ];

    /** The yes/no fields, shown as switches */
    const SWITCHES = ['tls-verify', 'keep', 'active', 'push'];

    /** Default ports: protocol => [implicit TLS, plain or STARTTLS] */
    const PORTS = ['pop3' => [995, 110], 'imap' => [993, 143]];

    /** Account ids as the server makes them */
    const ID_PATTERN = '/^[a-z0-9-]{1,32}$/';

    private $rc;
    private $client;
    private $role;

    // what the page templates render
    private $accounts;     // list rows
    private $account;      // show row of the account being edited
    private $values = [];  // form values by field (never the password)
    private $errors = [];  // field => server's reason
    private $log;          // last run log text
    private $page_error;   // a message in place of the page's content

    public function init()
    {
        $this->rc = rcmail::get_instance();

        $this->add_texts('localization/');
        $this->add_hook('settings_actions', [$this, 'settings_actions']);

        $this->register_action('plugin.fetchmail', [$this, 'action_list']);
        $this->register_action('plugin.fetchmail-edit', [$this, 'action_edit']);
        $this->register_action('plugin.fetchmail-save', [$this, 'action_save']);
        $this->register_action('plugin.fetchmail-test', [$this, 'action_test']);
        $this->register_action('plugin.fetchmail-run', [$this, 'action_run']);
        $this->register_action('plugin.fetchmail-delete', [$this, 'action_delete']);
        $this->register_action('plugin.fetchmail-active', [$this, 'action_active']);
        $this->register_action('plugin.fetchmail-oauth2-start', [$this, 'action_oauth2_start']);
        $this->register_action('plugin.fetchmail-oauth2', [$this, 'action_oauth2_callback']);

        if ($this->rc->task == 'settings') {
            $this->include_stylesheet($this->local_skin_path() . '/fetchmail.css');
        }
    }

    /**
     * settings_actions hook: the entry in the Settings menu.
     */
    public function settings_actions($args)
    {
        $args['actions'][] = [
            'action' => 'plugin.fetchmail',
            'class'  => 'fetchmail',
            'label'  => 'fetchmail',
            'title'  => 'fetchmailtitle',
            'domain' => 'fetchmail',
        ];

        return $args;
    }

    // ------------------------------------------------------------ actions

    /**
     * The accounts of the selected user, with status and switches.
     */
    public function action_list()
    {
        try {
            $this->accounts = $this->client()->call('fetchmailList', $this->params());
        }
        catch (fetchmail_api_error $e) {
            $this->fail_page($e);
        }

        $this->register_handler('plugin.fetchmailuserpicker', [$this, 'render_user_picker']);
        $this->register_handler('plugin.fetchmailaccounts', [$this, 'render_accounts']);
        $this->send_page('fetchmail', 'fetchmail');
    }

    /**
     * The Add/Edit form; for a stored account also its status and log.
     */
    public function action_edit()
    {
        $id = $this->input_id(rcube_utils::INPUT_GET);

        if ($id !== null) {
            try {
                $this->load_account($id);
                $this->values = $this->values_of($this->account);
            }
            catch (fetchmail_api_error $e) {
                $this->fail_page($e);
            }
        }
        else {
            $this->values = $this->default_values();
        }

        $this->send_form($id);
    }

    /**
     * Save the form: ask the server to judge every field first, show its
     * reasons next to the fields, and only then add or edit.
     */
    public function action_save()
    {
        $this->require_post();

        $id       = $this->input_id(rcube_utils::INPUT_POST);
        $password = $this->input('_password');

        $this->values = $this->posted_values();
        $params       = $this->field_params($this->values, $password, $id !== null);

        try {
            if ($this->judge($params, $id)) {
                if ($id === null) {
                    $rows = $this->client()->call('fetchmailAdd', $this->params($params));
                    $id   = isset($rows[0]['id']) ? $rows[0]['id'] : null;
                }
                else {
                    $this->client()->call('fetchmailEdit', $this->params($params + ['id' => $id]));
                }

                $this->rc->output->show_message($this->gettext('saved'), 'confirmation');

                if ($id !== null && preg_match(self::ID_PATTERN, $id)) {
                    $this->load_account($id);
                    $this->values = $this->values_of($this->account);
                }
            }
            else {
                $this->rc->output->show_message($this->gettext('errfields'), 'error');
            }
        }
        catch (fetchmail_api_error $e) {
            $this->rc->output->show_message($this->error_text($e), 'error');
        }

        // a refused edit stays an edit of the stored account (its id,
        // status and log) with the values as posted, so that saving again
        // does not add a second account
        if ($id !== null && !$this->account) {
            try {
                $this->load_account($id);
            }
            catch (fetchmail_api_error $e) {
                // the message above says what went wrong
            }
        }

        $this->send_form($id);
    }

    /**
     * Test connection (AJAX): the form's values, before saving. Replies
     * with each step the server went through; a failed step carries the
     * server's words.
     */
    public function action_test()
    {
        $this->ajax_action(false, function ($id) {
            $password = $this->input('_password');
            $values   = $this->posted_values();
            $params   = $this->field_params($values, $password, false);

            if ($id !== null && $password === '') {
                // the stored password is only the server's to use: test the
                // stored account, provided the form still describes it
                $this->load_account($id);
                if ($this->connection_changed($this->values_of($this->account), $values)) {
                    $this->rc->output->command('plugin.fetchmail_test_result', [
                        'ok' => false, 'steps' => [], 'message' => $this->gettext('testneedspassword')]);
                    return;
                }
                $params = ['id' => $id];
            }
            else if (!$this->judge($params, null, ['mailbox', 'active'])) {
                $this->rc->output->command('plugin.fetchmail_field_errors', $this->errors);
                $this->rc->output->show_message($this->gettext('errfields'), 'error');
                return;
            }

            $steps = $this->test_steps($params);
            $ok    = !empty($steps) && end($steps)['result'] === 'ok';

            $this->rc->output->command('plugin.fetchmail_test_result', [
                'ok'      => $ok,
                'steps'   => $steps,
                'message' => $this->gettext($ok ? 'testok' : 'testfailed'),
            ]);
        });
    }

    /**
     * Check now (AJAX): run one account, reply with what it fetched, its
     * new status and its log.
     */
    public function action_run()
    {
        $this->ajax_action(true, function ($id) {
            $result = ['id' => $id, 'ok' => false, 'fetched' => '0', 'error' => ''];

            try {
                $rows = $this->client()->call('fetchmailRun', $this->params(['id' => $id]),
                    $this->rc->config->get('fetchmail_run_timeout', 300));
                $row  = isset($rows[0]) ? $rows[0] : [];
                $result['ok']      = isset($row['status']) && $row['status'] === 'ok';
                $result['fetched'] = isset($row['fetched']) ? (string) $row['fetched'] : '0';
            }
            catch (fetchmail_api_error $e) {
                // a failed run answers only EX_TEMPFAIL: the reason is in
                // the account's status, read below
                if ($e->kind != fetchmail_api_error::EXIT_CODE || $e->exit_code != fetchmail_api::EX_TEMPFAIL) {
                    throw $e;
                }
            }

            $this->load_account($id);
            $result['error']  = (string) $this->account['last-error'];
            $result['status'] = $this->status_cells($this->account);
            $result['log']    = (string) $this->log;

            if ($result['ok']) {
                $message = $this->gettext(['name' => 'runok', 'vars' => ['n' => $result['fetched']]]);
            }
            else {
                $message = $this->gettext(['name' => 'runfailed', 'vars' => ['error' => $result['error']]]);
            }

            $this->rc->output->command('plugin.fetchmail_run_result', $result);
            $this->rc->output->show_message(rcube::Q($message), $result['ok'] ? 'confirmation' : 'error');
        });
    }

    /**
     * Delete (AJAX), after the page asked for confirmation.
     */
    public function action_delete()
    {
        $this->ajax_action(true, function ($id) {
            $this->client()->call('fetchmailRemove', $this->params(['id' => $id]));
            $this->rc->output->command('plugin.fetchmail_deleted', ['id' => $id]);
            $this->rc->output->show_message($this->gettext('deleted'), 'confirmation');
        });
    }

    /**
     * The active switch of the list (AJAX).
     */
    public function action_active()
    {
        $this->ajax_action(true, function ($id) {
            $active = $this->input('_active') === '1' ? 'yes' : 'no';
            try {
                $this->client()->call('fetchmailEdit', $this->params(['id' => $id, 'active' => $active]));
            }
            catch (fetchmail_api_error $e) {
                // the switch goes back to what the server has
                $active = $active === 'yes' ? 'no' : 'yes';
                $this->rc->output->command('plugin.fetchmail_active_result', ['id' => $id, 'active' => $active === 'yes']);
                throw $e;
            }
            $this->rc->output->command('plugin.fetchmail_active_result', ['id' => $id, 'active' => $active === 'yes']);
            $this->rc->output->show_message($this->gettext($active === 'yes' ? 'activated' : 'deactivated'), 'confirmation');
        });
    }

    /**
     * "Sign in with …" (AJAX): create the account (or take the stored one)
     * with OAuth2 login, ask the server for the provider's authorization
     * URL, remember its state in the session and send the browser there.
     */
    public function action_oauth2_start()
    {
        $this->ajax_action(false, function ($id) {
            $provider  = $this->input('_provider');
            $providers = $this->oauth2_providers();

            if (!isset($providers[$provider])) {
                $this->rc->output->show_message($this->gettext('oauth2unknown'), 'error');
                return;
            }

            if ($id === null) {
                $params = $this->oauth2_account_params($providers[$provider], $this->posted_values());

                if (!$this->judge($params, null)) {
                    $this->rc->output->command('plugin.fetchmail_field_errors', $this->errors);
                    $this->rc->output->show_message($this->gettext('errfields'), 'error');
                    return;
                }

                $rows = $this->client()->call('fetchmailAdd', $this->params($params));
                $id   = isset($rows[0]['id']) ? (string) $rows[0]['id'] : '';

                if (!preg_match(self::ID_PATTERN, $id)) {
                    throw new fetchmail_api_error('fetchmailAdd: no id', fetchmail_api_error::PROTOCOL);
                }
            }

            $rows = $this->client()->call('fetchmailOauth2Start', $this->params([
                'id'          => $id,
                'redirectUri' => $this->oauth2_redirect_uri(),
            ]));

            $url   = isset($rows[0]['url']) ? (string) $rows[0]['url'] : '';
            $state = isset($rows[0]['state']) ? (string) $rows[0]['state'] : '';

            if ($state === '' || !preg_match('!^https?://!i', $url)) {
                throw new fetchmail_api_error('fetchmailOauth2Start: no url or state', fetchmail_api_error::PROTOCOL);
            }

            $pending = isset($_SESSION['fetchmail_oauth2']) ? (array) $_SESSION['fetchmail_oauth2'] : [];
            // forget flows nobody finished within an hour
            foreach ($pending as $key => $flow) {
                if ($flow['time'] < time() - 3600) {
                    unset($pending[$key]);
                }
            }
            $pending[hash('sha256', $state)] = ['id' => $id, 'user' => $this->target_user(), 'time' => time()];
            $_SESSION['fetchmail_oauth2'] = $pending;

            $this->rc->output->command('plugin.fetchmail_oauth2_redirect', ['url' => $url]);
        });
    }

    /**
     * The redirect back from the provider: ?code=…&state=… (or error=…).
     * The state must be one this session started.
     */
    public function action_oauth2_callback()
    {
        $state   = rcube_utils::get_input_string('state', rcube_utils::INPUT_GET, true);
        $code    = rcube_utils::get_input_string('code', rcube_utils::INPUT_GET, true);
        $denied  = rcube_utils::get_input_string('error', rcube_utils::INPUT_GET);
        $pending = isset($_SESSION['fetchmail_oauth2']) ? (array) $_SESSION['fetchmail_oauth2'] : [];
        $key     = hash('sha256', (string) $state);
        $flow    = $state !== '' && isset($pending[$key]) ? $pending[$key] : null;
        $id      = null;

        if ($flow) {
            // a state is good for one try
            unset($pending[$key]);
            $_SESSION['fetchmail_oauth2'] = $pending;
        }

        if (!$flow || $flow['time'] < time() - 3600) {
            $this->rc->output->show_message($this->gettext('oauth2badstate'), 'error');
        }
        else if ($denied !== '' || $code === '') {
            $this->rc->output->show_message($this->gettext('oauth2denied'), 'error');
            $id = $flow['id'];
        }
        else {
            $id = $flow['id'];
            // the flow was started for this user: finish it for the same one
            $_GET['_fmuser'] = $flow['user'];

            try {
                $rows = $this->client()->call('fetchmailOauth2Finish', $this->params([
                    'state' => $state,
                    'code'  => $code,
                ]));
                $ok = isset($rows[0]['oauth2']) && $rows[0]['oauth2'] === 'connected';
                $this->rc->output->show_message($this->gettext($ok ? 'oauth2connected' : 'oauth2failed'),
                    $ok ? 'confirmation' : 'error');
            }
            catch (fetchmail_api_error $e) {
                $this->rc->output->show_message($this->error_text($e), 'error');
            }
        }

        if ($id !== null) {
            $_GET['_id'] = $id;
            $this->action_edit();
        }
        else {
            $this->action_list();
        }
    }

    // ------------------------------------------------------------ template objects

    /**
     * For Admins and Domain Admins: the users whose accounts they manage.
     */
    public function render_user_picker($attrib)
    {
        $users = $this->picker_users();

        if (count($users) < 2) {
            return '';
        }

        $select = new html_select([
            'name'  => '_fmuser',
            'id'    => 'fetchmail-user',
            'class' => 'custom-select',
            'onchange' => 'this.form.submit()',
        ]);
        foreach ($users as $user) {
            $select->add($user, $user);
        }

        $form = html::tag('form', ['method' => 'get', 'action' => './', 'class' => 'fetchmail-user-picker form-inline'],
            html::tag('input', ['type' => 'hidden', 'name' => '_task', 'value' => 'settings'])
            . html::tag('input', ['type' => 'hidden', 'name' => '_action', 'value' => 'plugin.fetchmail'])
            . html::label(['for' => 'fetchmail-user', 'class' => 'mr-2'], rcube::Q($this->gettext('localuser')))
            . $select->show($this->target_user())
            . html::tag('noscript', null, html::tag('button', ['type' => 'submit', 'class' => 'btn btn-secondary ml-2'],
                rcube::Q($this->gettext('show'))))
        );

        return html::div(['class' => 'fetchmail-picker'], $form);
    }

    /**
     * The accounts table.
     */
    public function render_accounts($attrib)
    {
        if ($this->page_error !== null) {
            return $this->render_page_error();
        }

        if (empty($this->accounts)) {
            return html::div(['class' => 'fetchmail-empty', 'id' => 'fetchmail-empty'],
                html::p(null, rcube::Q($this->gettext('noaccounts'))));
        }

        $table = new html_table([
            'id'    => isset($attrib['id']) ? $attrib['id'] : 'fetchmail-accounts',
            'class' => 'records-table fetchmail-accounts table',
            'cols'  => 8,
        ]);

        foreach (['account', 'destination', 'status', 'lastrun', 'lastfetched', 'lasterror', 'active', 'actions'] as $col) {
            $table->add_header(['class' => $col], rcube::Q($this->gettext($col)));
        }

        foreach ($this->accounts as $row) {
            $id = (string) $row['id'];
            $table->add_row(['id' => 'fetchmail-row-' . $id, 'data-id' => $id]);

            $edit = $this->rc->url(['_action' => 'plugin.fetchmail-edit', '_id' => $id] + $this->user_param());
            $name = $row['remote-user'] . ' @ ' . $row['host'];
            $table->add('account', html::a(['href' => $edit, 'class' => 'fetchmail-edit'], rcube::Q($name))
                . html::span('fetchmail-protocol', rcube::Q(strtoupper((string) $row['protocol'])))
                . (isset($row['push']) && $row['push'] === 'yes' ? html::span(['class' => 'fetchmail-protocol fetchmail-push',
                    'title' => $this->gettext('push')], rcube::Q($this->gettext('pushbadge'))) : ''));
            $table->add('destination', rcube::Q($this->folder_label((string) $row['mailbox'])));

            foreach ($this->status_cells($row) as $class => $html) {
                $table->add($class, $html);
            }

            $switch = new html_checkbox([
                'name'       => '_active',
                'value'      => '1',
                'id'         => 'fetchmail-active-' . $id,
                'class'      => 'pretty-checkbox fetchmail-active',
                'data-id'    => $id,
                'title'      => $this->gettext('active') . ': ' . $name,
                'aria-label' => $this->gettext('active') . ': ' . $name,
            ]);
            $table->add('active', $switch->show($row['active'] === 'yes' ? '1' : ''));

            $table->add('actions',
                html::a(['href' => $edit, 'class' => 'btn btn-secondary btn-sm fetchmail-edit-button'], rcube::Q($this->gettext('edit')))
                . ' ' . html::tag('button', ['type' => 'button', 'class' => 'btn btn-secondary btn-sm fetchmail-run', 'data-id' => $id],
                    rcube::Q($this->gettext('checknow')))
                . ' ' . html::tag('button', ['type' => 'button', 'class' => 'btn btn-danger btn-sm fetchmail-delete', 'data-id' => $id],
                    rcube::Q($this->gettext('delete')))
            );
        }

        return $table->show();
    }

    /**
     * The Add/Edit form.
     */
    public function render_form($attrib)
    {
        if ($this->page_error !== null) {
            return $this->render_page_error();
        }

        $v      = $this->values;
        $id     = $this->account ? (string) $this->account['id'] : null;
        $own    = $this->target_user() === $this->login();
        $table  = new html_table(['cols' => 2, 'class' => 'propform']);

        if (!$own) {
            $table->add('title', html::label(null, rcube::Q($this->gettext('localuser'))));
            $table->add(null, html::span('fetchmail-localuser', rcube::Q($this->target_user())));
        }

        $this->form_row($table, 'host', new html_inputfield(['name' => '_host', 'size' => 40,
            'autocomplete' => 'off', 'spellcheck' => 'false', 'placeholder' => 'pop.example.net']), $v['host']);

        $protocol = new html_select(['name' => '_protocol']);
        $protocol->add('POP3', 'pop3');
        $protocol->add('IMAP', 'imap');
        $this->form_row($table, 'protocol', $protocol, $v['protocol']);

        $tls = new html_select(['name' => '_tls']);
        $tls->add($this->gettext('tlsimplicit'), 'implicit');
        $tls->add($this->gettext('tlsstarttls'), 'starttls');
        $tls->add($this->gettext('tlsnone'), 'none');
        $this->form_row($table, 'tls', $tls, $v['tls']);

        $this->form_row($table, 'port', new html_inputfield(['name' => '_port', 'size' => 6,
            'inputmode' => 'numeric', 'placeholder' => $this->default_port($v)]),
            $v['port'], 'porthint');

        $this->form_row($table, 'tls-verify', new html_checkbox(['name' => '_tlsverify', 'value' => '1']),
            $v['tls-verify'] === 'yes' ? '1' : '', 'tlsverifyhint');

        $this->form_row($table, 'remote-user', new html_inputfield(['name' => '_remoteuser', 'size' => 40,
            'autocomplete' => 'off', 'spellcheck' => 'false']), $v['remote-user']);

        // never filled in: the server keeps the password and never gives it back
        $this->form_row($table, 'password', new html_passwordfield(['name' => '_password', 'size' => 40,
            'autocomplete' => 'new-password', 'placeholder' => $id !== null ? $this->gettext('passwordunchanged') : '']),
            '', $id !== null ? 'passwordhint' : null);

        $this->form_row($table, 'folders', new html_textarea(['name' => '_folders', 'rows' => 3, 'cols' => 40,
            'spellcheck' => 'false']), implode("\n", (array) $v['folders']), 'foldershint', 'fetchmail-imap-only');

        // IMAP only: for POP3 the script hides and disables it (so "no" is sent)
        $this->form_row($table, 'push', new html_checkbox(['name' => '_push', 'value' => '1']),
            $v['push'] === 'yes' ? '1' : '', 'pushhint', 'fetchmail-imap-only');

        $this->form_row($table, 'mailbox', $this->mailbox_input($own, $v['mailbox']), $own ? null : $v['mailbox']);

        $this->form_row($table, 'keep', new html_checkbox(['name' => '_keep', 'value' => '1']),
            $v['keep'] === 'yes' ? '1' : '', 'keephint');

        $this->form_row($table, 'max-size', new html_inputfield(['name' => '_maxsize', 'size' => 10,
            'placeholder' => '0']), $v['max-size'] === '0' ? '' : $v['max-size'], 'maxsizehint');

        $this->form_row($table, 'active', new html_checkbox(['name' => '_active', 'value' => '1']),
            $v['active'] === 'yes' ? '1' : '');

        $hidden = new html_hiddenfield(['name' => '_fmuser', 'value' => $this->target_user()]);
        if ($id !== null) {
            $hidden->add(['name' => '_id', 'value' => $id]);
        }

        $legend = $this->gettext($id !== null ? 'editaccount' : 'addaccount');
        $body   = html::tag('fieldset', null, html::tag('legend', null, rcube::Q($legend)) . $table->show())
            . $this->render_oauth2_buttons($id)
            . html::div(['id' => 'fetchmail-test-result', 'class' => 'fetchmail-test-result', 'role' => 'status', 'aria-live' => 'polite'], '');

        $this->rc->output->add_gui_object('fetchmailform', 'fetchmail-form');

        return $this->rc->output->form_tag([
                'id'     => 'fetchmail-form',
                'name'   => 'fetchmail-form',
                'method' => 'post',
                'action' => './?_task=settings&_action=plugin.fetchmail-save',
                'class'  => 'propform',
            ],
            $this->rc->output->request_form(['form' => true]) . $this->token_field() . $hidden->show() . $body
        );
    }

    /**
     * Status and "Last run log" of the account being edited.
     */
    public function render_status($attrib)
    {
        if ($this->page_error !== null || !$this->account) {
            return '';
        }

        $table = new html_table(['cols' => 2, 'class' => 'propform fetchmail-status', 'id' => 'fetchmail-status']);
        $cells = $this->status_cells($this->account);
        foreach (['status', 'lastrun', 'lastfetched', 'lasterror'] as $name) {
            $table->add('title', rcube::Q($this->gettext($name)));
            $table->add(['class' => $name], $cells[$name]);
        }
        if (!empty($this->account['next-run']) && $this->account['active'] === 'yes') {
            $table->add('title', rcube::Q($this->gettext('nextrun')));
            $table->add(['class' => 'nextrun'], rcube::Q($this->rc->format_date($this->account['next-run'])));
        }

        $log = (string) $this->log === '' ? $this->gettext('nolog') : $this->log;

        return html::tag('fieldset', ['class' => 'fetchmail-status-box'],
                html::tag('legend', null, rcube::Q($this->gettext('status'))) . $table->show())
            . html::tag('fieldset', ['class' => 'fetchmail-log-box'],
                html::tag('legend', ['id' => 'fetchmail-log-label'], rcube::Q($this->gettext('lastrunlog')))
                . html::tag('pre', ['id' => 'fetchmail-log', 'class' => 'fetchmail-log', 'tabindex' => '0',
                    'aria-labelledby' => 'fetchmail-log-label'], rcube::Q($log)));
    }

    // ------------------------------------------------------------ the API

    /**
     * The API client, set up from the configuration.
     *
     * @throws fetchmail_api_error
     */
    private function client()
    {
        if ($this->client) {
            return $this->client;
        }

        $this->load_config('config.inc.php.dist');
        $this->load_config();

        $config   = $this->rc->config;
        $url      = (string) $config->get('fetchmail_api_url');
        $key_file = (string) $config->get('fetchmail_api_key_file');

        if ($url === '' || $key_file === '') {
            throw new fetchmail_api_error('fetchmail_api_url or fetchmail_api_key_file is not set',
                fetchmail_api_error::CONFIG);
        }

        $key = is_readable($key_file) ? @file_get_contents($key_file) : false;
        if ($key === false || trim($key) === '') {
            throw new fetchmail_api_error("cannot read the API key from $key_file", fetchmail_api_error::CONFIG);
        }

        $this->client = new fetchmail_api($url, trim($key),
            $config->get('fetchmail_api_timeout', 30), $config->get('fetchmail_api_connect_timeout', 5));

        return $this->client;
    }

    /**
     * Parameters of a call for the selected user, acting as the login.
     */
    private function params(array $extra = [])
    {
        return ['user' => $this->target_user(), 'actor' => $this->login()] + $extra;
    }

    /**
     * Ask the server what it thinks of the fields (fetchmailValidate);
     * errors land in $this->errors. Fields in $ignore are not judged.
     *
     * @return bool true when all is good
     * @throws fetchmail_api_error
     */
    private function judge(array $params, $id, array $ignore = [])
    {
        if ($id !== null) {
            $params['id'] = $id;
        }

        $this->errors = [];
        foreach ($this->client()->call('fetchmailValidate', $this->params($params)) as $row) {
            if (isset($row['field'], $row['error']) && !in_array($row['field'], $ignore)) {
                $this->errors[$row['field']] = (string) $row['error'];
            }
        }

        return empty($this->errors);
    }

    /**
     * fetchmailTest, asking for the steps even when the test fails
     * (`report`); a server without `report` answers a failed test with
     * its exit code only.
     *
     * @return array of ['step' => …, 'result' => …]
     * @throws fetchmail_api_error
     */
    private function test_steps(array $params)
    {
        $timeout = $this->rc->config->get('fetchmail_run_timeout', 300);

        try {
            $rows = $this->client()->call('fetchmailTest', $this->params($params + ['report' => true]), $timeout);
        }
        catch (fetchmail_api_error $e) {
            if ($e->kind == fetchmail_api_error::EXIT_CODE && $e->exit_code == fetchmail_api::EX_TEMPFAIL) {
                return [['step' => 'result', 'result' => 'failed']];
            }
            throw $e;
        }

        $steps = [];
        foreach ($rows as $row) {
            if (isset($row['step'], $row['result'])) {
                $steps[] = ['step' => (string) $row['step'], 'result' => (string) $row['result']];
            }
        }

        return $steps;
    }

    /**
     * fetchmailShow and fetchmailLog of one account.
     *
     * @throws fetchmail_api_error
     */
    private function load_account($id)
    {
        $rows = $this->client()->call('fetchmailShow', $this->params(['id' => $id]));
        if (empty($rows[0])) {
            throw new fetchmail_api_error('fetchmailShow: no row', fetchmail_api_error::EXIT_CODE, fetchmail_api::EX_NOTFOUND);
        }
        $this->account = $rows[0];

        $rows      = $this->client()->call('fetchmailLog', $this->params(['id' => $id]));
        $this->log = isset($rows[0]['log']) ? (string) $rows[0]['log'] : '';
    }

    /**
     * The logged-in person's role: ['role' => admin|domain-admin|user,
     * 'domains' => [...]], from fetchmailRole.
     */
    private function role()
    {
        if ($this->role === null) {
            $this->role = ['role' => 'user', 'domains' => []];
            try {
                $login = $this->login();
                $rows  = $this->client()->call('fetchmailRole', ['user' => $login, 'actor' => $login]);
                if (!empty($rows[0]['role'])) {
                    $this->role = [
                        'role'    => (string) $rows[0]['role'],
                        'domains' => array_filter(explode(',', (string) $rows[0]['domains']), 'strlen'),
                    ];
                }
            }
            catch (fetchmail_api_error $e) {
                $this->log_error($e);
            }
        }

        return $this->role;
    }

    /**
     * The users the picker offers: the login first, then the users the
     * server says the login may act for.
     */
    private function picker_users()
    {
        $role  = $this->role();
        $users = [$this->login()];
        $masks = [];

        if ($role['role'] == 'admin') {
            $masks[] = ['allUsers' => true];
        }
        else if ($role['role'] == 'domain-admin') {
            foreach ($role['domains'] as $domain) {
                $masks[] = ['user' => '*@' . $domain];
            }
        }

        foreach ($masks as $mask) {
            try {
                foreach ($this->client()->call('fetchmailRole', $mask + ['actor' => $this->login()]) as $row) {
                    if (!empty($row['username'])) {
                        $users[] = (string) $row['username'];
                    }
                }
            }
            catch (fetchmail_api_error $e) {
                $this->log_error($e);
            }
        }

        $others = array_unique(array_slice($users, 1));
        sort($others);

        return array_values(array_unique(array_merge([$users[0]], $others)));
    }

    /**
     * The OAuth2 providers the server offers, by name; none when the
     * server has no OAuth2 support or nothing is configured.
     */
    private function oauth2_providers()
    {
        if (!$this->rc->config->get('fetchmail_oauth2', true)) {
            return [];
        }

        try {
            if (!$this->client()->has_command('fetchmailOauth2Providers')) {
                return [];
            }

            $providers = [];
            foreach ($this->client()->call('fetchmailOauth2Providers', $this->params()) as $row) {
                if (!empty($row['name'])) {
                    $providers[(string) $row['name']] = $row;
                }
            }

            return $providers;
        }
        catch (fetchmail_api_error $e) {
            $this->log_error($e);
            return [];
        }
    }

    /**
     * The fields of a new OAuth2 account: the provider's server for the
     * chosen protocol, implicit TLS, the form's remote user and mailbox.
     */
    private function oauth2_account_params(array $provider, array $values)
    {
        $proto = $values['protocol'] === 'pop3' ? 'pop3' : 'imap';
        $params = [
            'host'           => (string) $provider[$proto . '-host'],
            'protocol'       => $proto,
            'remoteUser'     => $values['remote-user'],
            'tls'            => 'implicit',
            'auth'           => 'oauth2',
            'oauth2Provider' => (string) $provider['name'],
        ];

        if (!empty($provider[$proto . '-port'])) {
            $params['port'] = (string) $provider[$proto . '-port'];
        }
        if ($values['mailbox'] !== '') {
            $params['mailbox'] = $values['mailbox'];
        }
        if ($proto == 'imap' && !empty($values['folders'])) {
            $params['folders'] = $values['folders'];
        }
        if ($proto == 'imap' && $values['push'] === 'yes') {
            $params['push'] = 'yes';
        }

        return $params;
    }

    private function oauth2_redirect_uri()
    {
        $uri = $this->rc->config->get('fetchmail_oauth2_redirect_uri');

        return $uri ?: $this->rc->url(['_task' => 'settings', '_action' => 'plugin.fetchmail-oauth2'], true, true);
    }

    // ------------------------------------------------------------ form values

    private function default_values()
    {
        return [
            'host' => '', 'port' => '', 'protocol' => 'pop3', 'remote-user' => '',
            'tls' => 'implicit', 'tls-verify' => 'yes', 'keep' => 'yes', 'folders' => ['INBOX'],
            'mailbox' => 'INBOX', 'max-size' => '', 'active' => 'yes', 'push' => 'no',
        ];
    }

    /**
     * The usual port of the values' protocol and TLS mode (as a string).
     */
    private function default_port(array $v)
    {
        $ports = self::PORTS[$v['protocol'] === 'imap' ? 'imap' : 'pop3'];

        return (string) $ports[$v['tls'] === 'implicit' ? 0 : 1];
    }

    /**
     * Form values of a fetchmailShow row. The port is left empty when it
     * is the default of protocol and TLS, so that it follows them.
     */
    private function values_of(array $row)
    {
        $v = $this->default_values();
        foreach ($v as $field => $default) {
            if (isset($row[$field])) {
                $v[$field] = $field == 'folders' ? array_filter(explode(',', (string) $row[$field]), 'strlen')
                    : (string) $row[$field];
            }
        }

        if ($v['port'] === $this->default_port($v)) {
            $v['port'] = '';
        }
        if ($v['max-size'] === '0') {
            $v['max-size'] = '';
        }

        return $v;
    }

    /**
     * Form values from the POST (the password is read on its own).
     */
    private function posted_values()
    {
        $v = [];
        foreach (['host', 'port', 'protocol', 'remote-user', 'tls', 'max-size'] as $field) {
            $v[$field] = $this->input('_' . str_replace('-', '', $field));
        }
        $v['host']     = trim($v['host']);
        $v['port']     = trim($v['port']);
        $v['max-size'] = trim($v['max-size']);

        foreach (self::SWITCHES as $field) {
            $v[$field] = $this->input('_' . str_replace('-', '', $field)) === '1' ? 'yes' : 'no';
        }

        $v['folders'] = array_values(array_filter(array_map('trim',
            preg_split('/\r?\n/', $this->input('_folders'))), 'strlen'));

        $mailbox = $this->input('_mailbox');
        // the folder picker holds IMAP (UTF-7) names, the API wants UTF-8
        if ($this->input('_mailboxutf7') === '1') {
            $mailbox = rcube_charset::convert($mailbox, 'UTF7-IMAP', RCUBE_CHARSET);
        }
        $v['mailbox'] = $mailbox;

        return $v;
    }

    /**
     * API parameters of form values. Empty port and max size mean the
     * defaults; an empty password means "unchanged" on edit; POP3 has no
     * folders (an edit resets them to INBOX).
     */
    private function field_params(array $v, $password, $is_edit)
    {
        $params = [];
        foreach (self::FIELDS as $field => $param) {
            if ($field == 'password' || $field == 'folders' || !isset($v[$field])) {
                continue;
            }
            if ($v[$field] === '' && in_array($field, ['port', 'max-size', 'mailbox'])) {
                // an edit has to say what the default is: the stored
                // value stays otherwise (and a port cannot be unset)
                if ($is_edit) {
                    $params[$param] = $field == 'mailbox' ? 'INBOX' : ($field == 'port' ? $this->default_port($v) : '0');
                }
                continue;
            }
            $params[$param] = $v[$field];
        }

        if ($v['protocol'] === 'imap') {
            $params['folders'] = $v['folders'] ?: ['INBOX'];
        }
        else if ($is_edit) {
            $params['folders'] = ['INBOX'];
        }

        if ($password !== '') {
            $params['password'] = $password;
        }

        return $params;
    }

    /**
     * Does the form describe another connection than the stored account?
     */
    private function connection_changed(array $stored, array $form)
    {
        foreach (['host', 'port', 'protocol', 'remote-user', 'tls', 'tls-verify'] as $field) {
            if ((string) $stored[$field] !== (string) $form[$field]) {
                return true;
            }
        }

        return $form['protocol'] === 'imap' && array_values($stored['folders']) != array_values($form['folders'] ?: ['INBOX']);
    }

    // ------------------------------------------------------------ rendering helpers

    /**
     * One row of the form: label, input (marked when the server found it
     * bad), the server's reason right below it, and a hint.
     */
    private function form_row($table, $field, $input, $value, $hint = null, $row_class = null)
    {
        $name  = str_replace('-', '', $field);
        $id    = 'fetchmail-' . $name;
        $error = isset($this->errors[$field]) ? $this->errors[$field] : null;
        $attrs = ['id' => $id];
        $after = '';

        if ($input instanceof html_checkbox) {
            $attrs['class'] = 'form-check-input';
        }
        else if ($input instanceof html_select) {
            $attrs['class'] = 'custom-select';
        }
        else {
            $attrs['class'] = 'form-control';
        }

        if ($error !== null) {
            $attrs['class']           .= ' is-invalid';
            $attrs['aria-invalid']     = 'true';
            $attrs['aria-describedby'] = $id . '-error';
        }

        // (Elastic turns the checkboxes of a propform into switches)
        $html = $input->show($value, $attrs);

        $after .= html::div(['class' => 'invalid-feedback fetchmail-error', 'id' => $id . '-error',
            'data-field' => $field, 'style' => $error !== null ? 'display:block' : null], rcube::Q((string) $error));

        if ($hint) {
            $after .= html::div(['class' => 'form-text text-muted fetchmail-hint'], rcube::Q($this->gettext($hint)));
        }

        $table->add_row(['class' => trim('fetchmail-field-' . $name . ' ' . $row_class)]);
        $table->add('title', html::label(['for' => $id], rcube::Q($this->gettext(str_replace('-', '', $field)))));
        $table->add(null, $html . $after);
    }

    /**
     * The destination: the user's own folders to pick from, or (acting
     * for another user, whose folders this session cannot see) a name.
     */
    private function mailbox_input($own, $mailbox)
    {
        if (!$own) {
            return new html_inputfield(['name' => '_mailbox', 'size' => 40]);
        }

        $utf7   = rcube_charset::convert($mailbox !== '' ? $mailbox : 'INBOX', RCUBE_CHARSET, 'UTF7-IMAP');
        $select = $this->rc->folder_selector([
            'name'       => '_mailbox',
            'noselection' => '',
            'additional' => [$utf7],
        ]);

        return new fetchmail_folder_picker($select, $utf7);
    }

    /**
     * The status columns of a list or show row: status, last run, last
     * fetched, last error (HTML, escaped).
     */
    private function status_cells(array $row)
    {
        $status = (string) $row['last-status'];
        $label  = in_array($status, ['never', 'ok', 'error', 'running', 'corrupt']) ? $this->gettext('status' . $status) : $status;

        if ($row['active'] === 'no' && $status != 'corrupt') {
            $label .= ' · ' . $this->gettext('inactive');
        }

        if (!empty($row['oauth2']) && $row['oauth2'] !== 'connected') {
            $label .= ' · ' . $row['oauth2'];
        }

        return [
            'status'      => html::span(['class' => 'fetchmail-status fetchmail-status-' . preg_replace('/[^a-z]/', '', $status)], rcube::Q($label)),
            'lastrun'     => rcube::Q($row['last-run'] ? $this->rc->format_date($row['last-run']) : $this->gettext('never')),
            'lastfetched' => rcube::Q((string) $row['last-fetched']),
            'lasterror'   => html::span('fetchmail-last-error', rcube::Q((string) $row['last-error'])),
        ];
    }

    private function render_oauth2_buttons($id)
    {
        if ($id !== null && (empty($this->account['auth']) || $this->account['auth'] !== 'oauth2')) {
            return '';
        }

        $buttons = '';
        foreach ($this->oauth2_providers() as $name => $provider) {
            $label = !empty($provider['label']) ? $provider['label'] : $name;
            $buttons .= html::tag('button', ['type' => 'button', 'class' => 'btn btn-secondary fetchmail-oauth2', 'data-provider' => $name],
                rcube::Q($this->gettext(['name' => 'oauth2signin', 'vars' => ['provider' => $label]]))) . ' ';
        }

        if ($buttons === '') {
            return '';
        }

        return html::tag('fieldset', ['class' => 'fetchmail-oauth2-box'],
            html::tag('legend', null, rcube::Q($this->gettext('oauth2')))
            . html::p('form-text text-muted', rcube::Q($this->gettext($id !== null ? 'oauth2reconnecthint' : 'oauth2hint')))
            . html::div('fetchmail-oauth2-buttons', $buttons));
    }

    private function render_page_error()
    {
        return html::div(['class' => 'boxerror fetchmail-page-error', 'id' => 'fetchmail-page-error', 'role' => 'alert'],
            rcube::Q($this->page_error));
    }

    private function folder_label($mailbox)
    {
        $utf7 = rcube_charset::convert($mailbox, RCUBE_CHARSET, 'UTF7-IMAP');
        return $this->rc->localize_foldername($utf7, true);
    }

    /**
     * The request token as a form field (Roundcube's own forms get it from
     * request_form(); this form is built by hand).
     */
    private function token_field()
    {
        $token = new html_hiddenfield(['name' => '_token', 'value' => $this->rc->get_request_token()]);
        return $token->show();
    }

    private function send_form($id)
    {
        $this->register_handler('plugin.fetchmailform', [$this, 'render_form']);
        $this->register_handler('plugin.fetchmailstatus', [$this, 'render_status']);

        if ($id !== null && $this->account) {
            $this->rc->output->set_env('fetchmail_id', $id);
        }
        $this->rc->output->set_env('fetchmail_ports', self::PORTS);
        $this->send_page($id !== null ? 'editaccount' : 'addaccount', 'fetchmailedit');
    }

    private function send_page($title, $template)
    {
        $this->include_script('fetchmail.js');
        $this->add_label('deleteconfirm', 'testing', 'running', 'step_connect', 'step_tls', 'step_login',
            'step_messages', 'step_result', 'step_resolve', 'active', 'delete');

        $this->rc->output->set_env('fetchmail_user', $this->target_user());
        $this->rc->output->set_env('fetchmail_list_url',
            $this->rc->url(['_action' => 'plugin.fetchmail'] + $this->user_param()));
        $this->rc->output->set_pagetitle($this->gettext($title));
        $this->rc->output->send('fetchmail.' . $template);
    }

    // ------------------------------------------------------------ input, errors

    private function login()
    {
        return (string) $this->rc->get_user_name();
    }

    /**
     * The local user whose accounts are shown: _fmuser, else the login.
     * Whether the login may act for that user is the server's decision.
     */
    private function target_user()
    {
        $user = trim((string) rcube_utils::get_input_string('_fmuser', rcube_utils::INPUT_GPC, true));

        return $user !== '' ? $user : $this->login();
    }

    private function user_param()
    {
        $user = $this->target_user();

        return $user !== $this->login() ? ['_fmuser' => $user] : [];
    }

    private function input($name)
    {
        return (string) rcube_utils::get_input_string($name, rcube_utils::INPUT_POST, true);
    }

    /**
     * The account id of the request, or null. A malformed one is treated
     * as none (the server would refuse it anyway).
     */
    private function input_id($source)
    {
        $id = (string) rcube_utils::get_input_string('_id', $source);

        return preg_match(self::ID_PATTERN, $id) ? $id : null;
    }

    /**
     * Changes are POSTs with the request token (Roundcube checks the token
     * of every POST before a plugin runs; this also refuses other methods).
     */
    private function require_ajax()
    {
        if (!$this->rc->output->ajax_call) {
            header('HTTP/1.0 400 Bad Request');
            exit;
        }

        $this->require_post();
    }

    private function require_post()
    {
        if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
            header('HTTP/1.0 405 Method Not Allowed');
            exit;
        }

        $this->rc->request_security_check(rcube_utils::INPUT_POST);
    }

    /**
     * The frame of every AJAX action: a POST with the request token, the
     * account id (required or optional), the body, a failed call turned
     * into a message a person can act on, the reply.
     */
    private function ajax_action($need_id, callable $body)
    {
        $this->require_ajax();

        $id = $this->input_id(rcube_utils::INPUT_POST);

        try {
            if ($need_id && $id === null) {
                $this->rc->output->show_message($this->gettext('errnotfound'), 'error');
            }
            else {
                $body($id);
            }
        }
        catch (fetchmail_api_error $e) {
            $this->rc->output->show_message($this->error_text($e), 'error');
        }

        $this->rc->output->send();
    }

    /**
     * The page cannot show what was asked: one message, no PHP error.
     */
    private function fail_page(fetchmail_api_error $e)
    {
        $this->page_error = $this->error_text($e);
        $this->account    = null;
        $this->rc->output->show_message($this->page_error, 'error');
    }

    /**
     * A message a person can act on, for a failed call. What went wrong in
     * detail goes to Roundcube's error log (never the key or a password).
     */
    private function error_text(fetchmail_api_error $e)
    {
        if ($e->kind == fetchmail_api_error::EXIT_CODE) {
            $labels = [
                fetchmail_api::EX_USAGE    => 'errinput',
                fetchmail_api::EX_DATAERR  => 'errcorrupt',
                fetchmail_api::EX_NOUSER   => 'errnouser',
                fetchmail_api::EX_NOTFOUND => 'errnotfound',
                fetchmail_api::EX_TEMPFAIL => 'errtempfail',
                fetchmail_api::EX_NOPERM   => 'errnoperm',
                fetchmail_api::EX_CONFIG   => 'errconfig',
            ];
            $label = isset($labels[$e->exit_code]) ? $labels[$e->exit_code] : 'errgeneric';
            if ($label == 'errgeneric' || $label == 'errconfig' || $label == 'errcorrupt') {
                $this->log_error($e);
            }
            return $this->gettext($label);
        }

        $this->log_error($e);

        return $this->gettext($e->is_unavailable() ? 'errunavailable' : 'errgeneric');
    }

    private function log_error(fetchmail_api_error $e)
    {
        rcube::raise_error([
                'code'    => 600,
                'file'    => __FILE__,
                'line'    => __LINE__,
                'message' => 'fetchmail: ' . $e->getMessage(),
            ], true, false
        );
    }
}

/**
 * The folder picker of the form: Roundcube's folder select, plus a marker
 * that its values are IMAP (UTF-7) names.
 */
class fetchmail_folder_picker
{
    private $select;
    private $selected;

    public function __construct($select, $selected)
    {
        $this->select   = $select;
        $this->selected = $selected;
    }

    public function show($value, $attrs = [])
    {
        $marker = new html_hiddenfield(['name' => '_mailboxutf7', 'value' => '1']);
        $attrs['class'] = 'custom-select' . (strpos((string) $attrs['class'], 'is-invalid') !== false ? ' is-invalid' : '');

        return $this->select->show($this->selected, $attrs) . $marker->show();
    }
}
