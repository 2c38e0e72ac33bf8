"""Lexicons of the topics beyond markets and politics: society, technology, science, sports,
entertainment. Data only; `lexicon.TOPIC_LEXICON` merges them in (same syntax, see there).

They exist so that out-of-scope news has a home instead of a wrong finance or politics
label (bench/topics.py: on old main 61-78% of topic errors were sport, entertainment,
technology, science or crime given a finance/politics topic by one generic word). Written by
hand in English, Russian and Ukrainian from general news vocabulary (not from the labelled
files' items). Weights follow `topics.py`: 1 is a generic cue (counts only beside a
specific one), 2 a specific cue, 3 a cue that alone all but names the topic.
"""

from __future__ import annotations

from civicquant.extraction import Topic

__all__ = ["OUT_OF_SCOPE_LEXICON"]

OUT_OF_SCOPE_LEXICON: dict[Topic, str] = {
    # Crime, courts, accidents, disasters, weather, health systems, education, migration.
    "society": """
        police:2 policeman:2 policemen:2 officers arrested:2 arrest:2 arrests:2 murder:3
        murdered:3 murders:3 homicide:3 manslaughter:3 stabbing:3 stabbed:3 shooting:2
        shootings:2 gunman:3 gunmen:2 robbery:3 robbers:3 burglary:3 theft:3 thieves:3
        fraud:2 scam:2 kidnapped:3 kidnapping:3 abducted:3 rape:3 sexual_abuse:3 abuse:2
        assault:2 crime:3 crimes:2 criminal:2 criminals:3 gang:2 gangs:2 suspect:2
        suspects:2 suspected:1 charged:2 charges:1 sentenced:3 prison:2 jail:2 jailed:3
        convicted:3 acquitted:3 trial:1 court judge jury:3 prosecutors:2 prosecutor:2
        detained:2 custody:2 drug:1 drugs:2 cocaine:3 heroin:3 trafficking:2
        accident:3 accidents:2 crash:1 crashed:2 collision:3 derailed:3 derailment:3
        plane_crash:3 car_crash:3 fire:1 fires:2 blaze:3 wildfire:3 wildfires:3
        firefighters:3 flood:3 floods:3 flooding:3 flash_floods:3 earthquake:3
        earthquakes:3 quake:3 tsunami:3 hurricane:3 typhoon:3 cyclone:3 tornado:3
        storm:2 storms:2 landslide:3 avalanche:3 disaster:2 disasters:2 victims:2
        injured:2 injuries:2 wounded:1 dead:1 died:2 dies:1 death:1 deaths:2 killed
        bodies:2 rescue:2 rescuers:3 rescued:2 evacuated:2 evacuation:2 survivors:2
        missing:1 hospital:2 hospitals:2 hospitalised:3 hospitalized:3 patients:2
        doctors:2 nurses:2 health:1 healthcare:2 health_care:2 medical:1 vaccine:2
        vaccines:2 vaccination:2 outbreak:2 epidemic:3 pandemic:2 covid:2 coronavirus:2
        virus:1 disease:2 diseases:2 flu:2 measles:3 cancer:2 obesity:2 diabetes:2
        school:1 schools:2 pupils:3 students:2 teachers:2 teacher:2 education:2
        migrants:2 refugees:2 asylum:2 homeless:3 homelessness:3 poverty:2 welfare:2
        food_insecure:3 heatwave:3 heat_wave:3 drought:2 snowstorm:3 blizzard:3
        weather:1 suicide:2 overdose:3 funeral:2 tragedy:2 children:1 child:1 family:1
        families:1 residents:1 neighbourhood:1 neighborhood:1
        pope:2 vatican:2 church:2 churches:2 bishop:2 priest:2 priests:2 cleric:2
        clerics:2 mosque:2 religious:1 catholic:2 obituary:3 scandal:1 life_raft:3
        coast_guard:3 столкнул*:2 самолет* аэропорт* поиск* обнаружен* марихуан*:3
        опрос*:1 дорог* ремонт* церк*:2 патриарх*:2 священник*:3 храм*:2
        сутичк*:1 зіткн*:2 літак* аеропорт* розшук*:2 церкв*:2 священик*:3
        пропавш*:2 осудил*:3 виновн*:2 сутенер*:3 проститу*:3 emergency_landing:3
        explosion:2 recall:2 salmonella:3 food_poisoning:3 e_coli:3 malaria:3 hiv:3
        aids:2 ebola:3 tuberculosis:3 smoking:2 alcohol:2 гепатит*:3 вич:3 алкогол*:2
        курени*:2 зникл*:2 винн*:2
        полици*:2 полицейск*:2 задержан*:2 задержал*:2 арестова*:2 убийств*:3 убийц*:3
        убит убита убиты убил убила:2 убили ранен*:2 ранения:2 пострадал*:3
        пострадавш*:3 погиб*:3 гибел*:3 жертв*:2 дтп:3 авари*:3 катастроф*:2 крушени*:3
        пожар*:3 возгоран*:3 наводнен*:3 паводк*:3 землетрясен*:3 ураган*:3 шторм*:2
        лавин*:2 оползн*:3 мчс:3 спасател*:3 эвакуир*:2 эвакуац*:2 суд суда суде судом
        судья судьи судью приговор*:3 осужден*:3 тюрьм*:2 колони* мошенни*:3 краж*:3
        грабеж*:3 ограблен*:3 похищ*:2 похитил*:3 изнасил*:3 преступлен*:2 преступник*:3
        уголовн*:2 следовател*:3 следствен*:2 прокуратур*:2 прокурор*:2 больниц*:2
        врач*:2 медик*:2 медицин* пациент*:2 здравоохранен*:3 минздрав*:3 вакцин*:2
        эпидеми*:3 пандеми*:2 коронавирус*:2 ковид*:2 вирус* заболеван*:2 грипп*:2
        онколог*:2 школ* школьник*:3 учител*:2 студент*:2 образован* егэ:3 мигрант*:2
        беженц*:2 жкх:2 коммунальн*:2 погод* мороз*:2 снегопад*:3 трагеди*:2 труп*:3
        тело скончал*:2 смерт* умер умерла:2 умерли ребен*:2 детей дети детск*
        насили*:2 наркотик*:3 наркоман*:3 хулиган*:3 стрельб* поножовщин*:3
        вымогател*:3 взятк*:2 коррупц*:2 самоубийств*:3 суицид*:3 пропал*:1 розыск*:2
        жител* бездомн*:3 бедност*:2 пенсионер*:2
        поліці*:2 поліцейськ*:2 затрима*:2 заарештува*:2 вбивств*:3 убивств*:3 вбив*:2
        вбили поранен*:2 постраждал*:3 загинул*:3 загинув:3 загинули:3 загибел*:3 аварі*:3
        пожеж*:3 загоранн*:3 повін*:3 повен*:3 землетрус*:3 зсув*:2 дснс:3 рятувальник*:3
        евакуаці*:2 евакуйова*:2 вирок*:3 засуджен*:3 в'язниц*:2 шахра*:3 крадіжк*:3
        пограбуванн*:3 викрад*:2 злочин*:3 кримінальн*:2 слідч*:2 лікарн*:2 лікар*:2
        пацієнт*:2 моз:3 епідемі*:3 пандемі*:2 коронавірус*:2 захворюванн*:2 грип*:2
        школяр*:3 вчител*:2 освіт* біженц*:2 комунальн*:2 снігопад*:3 трагеді*:2
        помер:2 померла:2 померли:2 дитин*:2 діт* насильств*:2 хабар*:2 корупці*:2
        мешканц*:1 зник*:1
    """,
    # Gadgets, software, the internet, AI, telecoms, cyber security, video games.
    "technology": """
        technology:2 technologies:2 tech:2 software:3 hardware:2 app:2 apps:2
        smartphone:3 smartphones:3 iphone:3 ipad:3 ipod:3 android:3 ios:2 chip:2 chips:2
        chipmaker:3 chipmakers:3 semiconductor:3 semiconductors:3 processor:3
        processors:3 microprocessor:3 intel:3 amd:2 qualcomm:3 samsung:2 huawei:2
        xiaomi:3 artificial_intelligence:3 ai:3 chatgpt:3 chatbot:3 chatbots:3 robot:2
        robots:2 robotics:3 internet:3 online:1 broadband:3 wifi:3 wi_fi:3 wireless:2
        5g:3 4g:2 telecom:2 telecoms:2 cyber:3 cyberattack:3 cyberattacks:3
        cybersecurity:3 hackers:3 hacker:3 hacked:3 hacking:3 malware:3 ransomware:3
        virus spam:3 phishing:3 data_breach:3 encryption:3 computer:3 computers:3
        computing:3 pc:2 pcs:2 laptop:3 laptops:3 tablet:2 linux:3 unix:3 browser:3
        browsers:3 firefox:3 search_engine:3 web:2 website:2 websites:2 users:2 user:1
        gadget:3 gadgets:3 device:2 devices:2 digital:1 video_game:3 video_games:3
        gaming:2 console:2 playstation:3 xbox:3 nintendo:3 open_source:3 developers:2
        programmers:3 programming:3 cloud:1 cloud_computing:3 servers:2 server:1
        database:2 download:2 downloads:2 downloaded:2 upgrade:1 silicon_valley:2 ibm:3
        oracle microsoft google yahoo:2 apple ebay netscape:2 sun_microsystems:2
        electric_vehicle:2 electric_vehicles:2 self_driving:3 social_media:2
        social_network:3 facebook:2 twitter:2 youtube:2 tiktok:2 instagram:2 whatsapp:2
        telegram:1 messenger:2 email:2 e_mail:2 spyware:3 gigabit:3 megabytes:3
        gigabytes:3 bluetooth:3 touchscreen:3 camera:1 wearable:3 smartwatch:3
        network:1 networks:1 ip:1 voip:3 file_sharing:3 peer_to_peer:3 kazaa:3 napster:3
        itunes:3 dvd:2 dvds:2 electronics:2 mobile_phone:3 mobile_phones:3 cell_phone:3
        cell_phones:3 cellphone:3 cellphones:3 phone:1 phones:2 handset:3 handsets:3
        biometric:3 rfid:3 chipset:3 passwords:3 password:3 vulnerability:3
        vulnerabilities:3 security_flaw:3 patch:2 windows_xp:3 service_pack:3
        operating_system:3 msn:2 aol:3 sap:2 dell:3 hewlett_packard:3 hp:2 cisco:3
        motorola:2 ericsson:2 nokia:2 blackberry:3 pda:3 gps:2 search:1 spammers:3
        firewall:3 mac:1 os_x:3 storage:1 nanotechnology:3 semiconductor_maker:3 wi_max:3
        вконтакте:2 уязвимост*:3 пароль:2 пароли:2 паролей:2 биометри*:3 redmi:3
        galaxy:2 запуск* вразливост*:3 паролі:2
        facial_recognition:3 authentication:3 digital_camera:3 digital_cameras:3 mp3:3
        walkman:3 blogs:3 blog:2 blogger:3 bloggers:3 backup:2 disk:2 imac:3
        cyberspace:3 blu_ray:3 patent patents infringement games_maker:3 game_maker:3
        video_gaming:3 gamers:3 search_results:3 semiconductor_industry:3
        технолог*:2 смартфон*:3 айфон*:3 гаджет*:3 компьютер*:3 ноутбук*:3 планшет*:2
        процессор*:3 микросхем*:3 полупроводник*:3 чип чипы:2 чипов:2
        искусственный_интеллект:3 искусственного_интеллекта:3 искусственным_интеллектом:3
        искусственному_интеллекту:3 ии:3 нейросет*:3 чат_бот:3 чатбот*:3 робот*:2
        интернет*:3 онлайн сайт*:2 браузер*:3 хакер*:3 кибер*:3 вредонос*:3
        пользовател*:2 соцсет*:2 мессенджер*:3 телеграм* ватсап*:2 ютуб*:2
        тикток*:2 гугл*:2 эппл:2 самсунг*:2 софт:2 программн*:2 разработчик*:2 цифров*
        сотов*:2 мобильн* роскомнадзор*:2 vpn:3 впн:3 видеоигр*:3 электромобил*:2
        приложени* операционн*:2 обновлени* дата_центр:3 датацентр*:3 майкрософт*:2
        технологі*:2 комп'ютер*:3 процесор*:3 штучний_інтелект:3 штучного_інтелекту:3
        штучним_інтелектом:3 ші:3 нейромереж*:3 інтернет*:3 застосунк*:3 застосунок:3
        кібер*:3 користувач*:2 соцмереж*:2 месенджер*:3 розробник*:2 цифрову цифрові
        мобільн* оновленн* відеоігр*:3 електромобіл*:2
    """,
    # Research, space, nature, climate science, medicine as research.
    "science": """
        science:2 sciences:2 scientists:3 scientist:3 scientific:3 researchers:2
        research:1 study:1 studies:1 space:2 nasa:3 spacecraft:3 astronauts:3
        astronaut:3 cosmonaut:3 orbit:3 orbiting:3 orbital:2 satellite:2 satellites:2
        mars:3 moon:2 lunar:3 planet:3 planets:3 asteroid:3 comet:3 telescope:3
        hubble:3 galaxy:3 galaxies:3 universe:2 astronomers:3 astronomy:3 physics:3
        physicists:3 physicist:3 chemistry:3 chemists:3 biology:3 biologists:3
        species:3 fossil:3 fossils:3 dinosaur:3 dinosaurs:3 genome:3 gene:3 genes:3
        genetic:3 genetically:3 dna:3 cells:2 stem_cells:3 evolution:2 climate_change:2
        global_warming:3 climate:1 antarctic:2 antarctica:2 arctic:1 archaeologists:3
        archaeological:3 ancient:2 discovered:2 discovery:2 discoveries:2 experiment:3
        experiments:3 laboratory:2 lab:1 journal:2 peer_reviewed:3 whale:2 whales:2
        animals:2 wildlife:2 birds:2 insects:3 mammals:3 spacex:3 esa:3 iss:3
        space_station:3 shuttle:2 probe:2 nobel:2 launch:1 launched:1 rocket
        molecules:3 molecule:3 particles:3 particle:2 quantum:3 neutrino:3 atoms:3
        ocean:1 oceans:2 volcano:2 eruption:2 meteorite:3 solar_system:3 cassini:3
        butterfly:2 butterflies:2 fish:1 forest:1 forests:1 rainforest:2 endangered:3
        extinction:3 extinct:3 conservation:2 biodiversity:3 coral:3 reef:3
        environment:1 environmental:1 emissions:1 carbon:1 greenhouse_gases:2 kyoto:2
        ozone:3 glacier:3 glaciers:3 pollution:2 researchers_say:3 scientists_say:3
        biomedical:3 clinical_trial:3 clinical_trials:3 in_vitro:3 toxicity:2 metabolism:2
        protein:2 proteins:3 enzyme:3 enzymes:3 antibodies:3 neurons:3 brain:1 organoids:3
        зоопарк*:2 звер* природ* заповедник*:3 экологи*:2 загрязнен*:2 ледник*:3
        природн* заповідник*:3 екологі*:2 забрудненн*:2 льодовик*:3
        ученые:3 ученых:3 ученым:3 ученый:3 учеными:3 исследовател*:3 исследован*
        наук*:2 научн*:3 космос*:3 космическ*:3 космонавт*:3 астронавт*:3 роскосмос*:3
        наса:3 мкс:3 орбит*:3 спутник*:2 марс*:3 луна:2 луны:2 луне:2 луну:2 лунн*:3
        планет*:3 астероид*:3 комет*:3 телескоп*:3 галактик*:3 вселенн*:2 астроном*:3
        физик*:2 химик*:2 биолог*:3 генетик*:3 генетическ*:3 днк:3 клетк*:2 эволюц*:2
        палеонтолог*:3 динозавр*:3 окаменел*:3 археолог*:3 древн*:2 открыти*
        эксперимент*:2 лаборатор*:2 климат* глобального_потепления:3
        глобальное_потепление:3 животн*:2 млекопитающ*:3 насеком*:3 океан* вулкан*:2
        молекул*:3 частиц*:2 квантов*:3 ракет*
        вчені:3 вчених:3 вченим:3 науковц*:3 науков*:3 дослідник*:3 досліджен*
        космічн*:3 орбіт*:3 супутник*:2 астероїд*:3 всесвіт*:2 клітин*:2
        еволюці*:2 стародавн*:2 експеримент*:2 тварин*:2 кліма*
    """,
    # Sport of every kind.
    "sports": """
        sport:2 sports:2 football:3 soccer:3 basketball:3 baseball:3 hockey:3 tennis:3
        golf:3 golfer:3 cricket:3 rugby:3 boxing:3 boxer:3 olympic:3 olympics:3
        athletics:3 athlete:2 athletes:2 marathon:2 cycling:2 cyclist:3 formula_one:3 f1:3
        grand_prix:3 nba:3 nfl:3 nhl:3 mlb:3 fifa:3 uefa:3 premier_league:3
        champions_league:3 world_cup:3 super_bowl:3 league:2 championship:2
        championships:2 tournament:2 match:1 matches:1 game:1 games:1 season:2 coach:3
        coaches:2 team:1 teams:1 player:2 players:2 goal:1 goals:2 scored:2 striker:3
        midfielder:3 goalkeeper:3 quarterback:3 pitcher:3 pitchers:3 inning:3 innings:3
        touchdown:3 touchdowns:3 playoffs:3 playoff:3 final:1 finals:2 semifinal:3
        semifinals:3 semi_final:3 quarterfinal:3 quarterfinals:3 quarter_final:3 medal:3
        medals:3 gold_medal:3 champion:2 champions:1 title:1 win:1 wins:1 won:1 victory:1
        defeat:1 beat:1 beats:1 draw:1 stadium:3 fans:2 cup:2 racing:2 race:1 lap:2
        laps:2 wimbledon:3 us_open:3 grand_slam:3 home_run:3 homer:3 batting:3 wicket:3
        wickets:3 nascar:3 pga:3 ryder_cup:3 seed:1 seeded:3 rookie:3
        defender:1 transfer:1 midfield:3 referee:3 penalty:1 kickoff:3 hat_trick:3
        olympian:3 swimmer:3 swimming:2 sprinter:3 skier:3 skiing:3 ski:2 skating:3
        wrestling:3 chess:2 grandmaster:3 ufc:3 mma:3 knockout:2 heavyweight:3 bout:2
        spartak:3 dynamo:1 arsenal:1 chelsea:2 barcelona:1 real_madrid:3 manchester_united:3
        liverpool:1 juventus:3 bayern:2
        free_agent:3 draft_pick:3 sprint:2 hurdles:3 relay:2 jockey:3 horse_racing:3
        racehorse:3 derby:2 underdog:2 ncaa:3 yards:3 rushing:2 receiver:1 linebacker:3
        tight_end:3 pitch:1 bowler:3 batsman:3 test_match:3 test_series:3 captain:1
        skipper:2 fixture:2 fixtures:2 standings:3 postseason:3 preseason:3 ball:1
        club:1 clubs:1 manager:1 coach_says:3 head_coach:3 world_series:3 slam:1
        marathon_runner:3 tennis_player:3 seeds:1 olympic_champion:3
        хавбек*:3 гонщик*:3 пилот* команд* контракт* легионер*:3 форвард*:3 дерби:2
        ranked:2 offense:2 homers:3 homered:3 overtime:3 field_goal:3 speedway:3
        paralympics:3 paralympic:3 jockeys:3 rebounds:3 assists:3 points:1 third_down:3
        quarterbacks:3 runs:1 shutout:3 no_hitter:3 dugout:3 bullpen:3 slugger:3
        rebound:1 dunk:3 free_throw:3 free_throws:3 fumble:3 interception:3
        interceptions:3 sacked:3 punter:3 kicker:2 end_zone:3 grand_final:3
        yankees:3 red_sox:3 white_sox:3 dodgers:3 cubs:2 orioles:3 phillies:3 mets:2
        astros:3 braves:2 mariners:2 padres:3 diamondbacks:3 rockies:2 marlins:3
        lakers:3 knicks:3 celtics:3 pistons:3 spurs:2 mavericks:2 nuggets:3 raptors:3
        timberwolves:3 cavaliers:2 blazers:2 steelers:3 packers:3 broncos:3 seahawks:3
        colts:3 bengals:3 raiders:2 patriots:1 cowboys:2 redskins:3 dolphins:1 eagles:1
        buccaneers:3 jaguars:2 vikings:1 chargers:2 panthers:1 ravens:1 texans:1
        manchester_city:3 tottenham:3 everton:3 newcastle_united:3 celtic:1 rangers:1
        milan:1 inter_milan:3 ac_milan:3 psg:3 borussia:3 ajax:2 porto:1 benfica:3
        atletico:3 valencia:1
        півзахисник*:3 нападник*:3
        спорт*:2 футбол*:3 хокке*:3 баскетбол*:3 волейбол*:3 теннис*:3 бокс:3 боксер*:3
        олимпи*:3 олимпийск*:3 чемпионат*:3 чемпион*:2 турнир*:2 матч*:3 сборн*:2
        тренер*:3 футболист*:3 хоккеист*:3 игрок*:2 гол:2 голы:2 голов забил*:2
        нападающ*:2 вратар*:3 клуб* лига:2 лиги:2 лигу:2 лиге:2 рпл:3 кхл:3 нхл:3 нба:3
        уефа:3 фифа:3 формула_1:3 медал*:2 соревнован*:2 спортсмен*:3 атлет*:2 финал*
        полуфинал*:3 четвертьфинал*:3 плей_офф:3 стадион*:3 болельщик*:3 фанат*:2
        лыжн*:2 биатлон*:3 фигурист*:3 гонк* победил* поражен* ничь*:2 сезон* цска:3
        зенит* трансфер*:2 легкоатлет*:3 пловец:3 пловчих*:3 шахмат*:3 гроссмейстер*:3
        бой боя:1 нокаут*:3
        хоке*:3 теніс*:3 олімпі*:3 чемпіонат*:3 чемпіон*:2 турнір*:2 збірн*:2
        футболіст*:3 хокеїст*:3 гравц*:2 гравець:2 забив*:2 воротар*:3 ліга:2 ліги:2
        лігу:2 лізі:2 упл:3 змаганн*:2 фінал півфінал*:3 чвертьфінал*:3 стадіон*:3
        уболівальник*:3 перемог* поразк* нічия:2 нічию:2 динамо шахтар*:2 шахи:3
        шахіст*:3
    """,
    # Film, music, television, celebrities, books and culture.
    "entertainment": """
        film:3 films:3 movie:3 movies:3 cinema:3 box_office:3 hollywood:3 bollywood:3
        actor:3 actress:3 actors:3 director:1 star:1 stars:1 celebrity:3 celebrities:3
        singer:3 singers:3 song:3 songs:3 album:3 albums:3 music:2 musical:2
        musician:3 musicians:3 band:2 concert:3 concerts:3 tour:1 festival:2 oscar:3
        oscars:3 grammy:3 grammys:3 emmy:3 emmys:3 golden_globe:3 golden_globes:3 tv:2
        television:2 show:1 shows:1 series:1 episode:3 episodes:3 sitcom:3 netflix:3
        disney:2 hbo:3 premiere:3 sequel:3 trailer:2 novel:2 novels:2 book:1 books:2
        author:1 writer:1 pop:2 rock:1 rapper:3 hip_hop:3 fashion:2 theatre:3 theater:3
        broadway:3 comedy:2 comedian:3 drama:2 starring:3 starred:3 reality_show:3
        tv_show:3 marvel:3 star_wars:3 harry_potter:3 eurovision:3 ballet:3 opera:2
        painting:2 museum:2 exhibition:2 artist:2 artists:2 art:1 actors_guild:3
        studio:1 studios:2 screen:1 blockbuster:3 soundtrack:3 spotify:3 streaming:1
        royal:1 wedding:2 divorce:2 cannes:3 hit_single:3 chart:1 charts:2 billboard:2
        фильм*:3 кино:3 кинотеатр*:3 кинофестивал*:3 сериал*:3 актер*:3 актрис*:3
        режиссер*:3 певиц*:3 певец:3 певца:3 песн*:3 альбом*:2 музык*:2 музыкант*:3
        концерт*:3 гастрол*:3 фестивал*:2 оскар*:3 грэмми:3 шоу:2 телешоу:3 звезд*
        знаменитост*:3 рэпер*:3 клип*:3
        телеканал* эфир* блогер*:2 шоу_бизнес:3 театр*:3 спектакл*:3 книг* писател*:2
        мультфильм*:3 сыграл* роль роли евровиден*:3 балет*:3 опера:3 оперы:2 оперу:2
        выставк*:2 музе*:2 художник*:2 сцен* свадьб*:2 развод*:2
        артист*:3 танцовщ*:3 хит:2 хиты:2 телеведущ*:3 ведущ* шоумен*:3 юмор*:2 комик*:2
        photographer:2 photographers:2 photography:2 photographs:1 singer_songwriter:3
        трейлер*:2 хоррор*:3 биеннале:3 искусств*:2 литератур*:2 поэт*:3 поэзи*:3 юбиле*:2
        мистецтв*:2 літератур*:2 поет*:3 поезі*:3 quiz_show:3 game_show:3 viral:1
        poet:3 poetry:3 literary:3 literature:2 novelist:3 biennale:3 horror:2
        comedians:3 celebrity_news:3 reality_tv:3 box_office_hit:3
        фільм*:3 кіно:3 кінотеатр*:3 кінофестивал*:3 серіал*:3 актор*:3 режисер*:3
        співачк*:3 співак*:3 співака:3 пісн*:3 пісень:3 музик*:2 музикант*:3
        зірк* репер*:3 кліп*:3 вистав*:2 книж*
        письменник*:2 мультфільм*:3 євробаченн*:3 виставк*:2 весілл*:2
    """,
}
